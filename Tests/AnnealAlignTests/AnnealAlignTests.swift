// Tests for AnnealAlign.
