// AnnealQuality module (see README).
