// AnnealProfile module (see README).
