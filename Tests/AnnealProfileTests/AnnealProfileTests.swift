// Tests for AnnealProfile.
