// Umbrella header for the OpenBLAS backend: CBLAS (sgemm) and LAPACKE
// (Cholesky, least squares, symmetric eigen), plus OpenBLAS's thread and
// core controls. Only Sources/Anneal/OpenBLASBackend.swift imports it.
#ifndef ANNEAL_COPENBLAS_SHIM_H
#define ANNEAL_COPENBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
