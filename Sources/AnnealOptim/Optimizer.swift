// Optimizers (see README).
