/*
 * varispeed with its portable kernel forced: every test of
 * test_varispeed.c again, so the path a CPU without AVX2 takes stays
 * tested on one that has it.
 */
#define VARISPEED_TEST_PORTABLE true
#include "tests/test_varispeed.c"
