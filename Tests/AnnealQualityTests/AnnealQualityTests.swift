// Tests for AnnealQuality.
