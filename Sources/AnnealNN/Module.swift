// Module, layers and losses (see README).
