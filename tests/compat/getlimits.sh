#!/bin/sh
# The values of coreutils' getlimits (a program of its build tree, not installed) that the
# timeout tests read, for x86_64 / aarch64 Linux with glibc: 32-bit int, 64-bit time_t,
# 80- or 128-bit long double (LDBL_MAX below is the x86 one; larger than any double either way).
cat <<'LIMITS'
INT_MAX=2147483647
INT_OFLOW=2147483648
UINT_MAX=4294967295
UINT_OFLOW=4294967296
TIME_T_MAX=9223372036854775807
TIME_T_OFLOW=9223372036854775808
LDBL_MAX=1.18973149535723176502e+4932
LIMITS
