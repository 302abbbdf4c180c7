#!/bin/sh
# Copy SmartPLS 2.0.M3's ECSI outputs from semPLS's test folder, byte for byte.
# Usage: sh copy_smartpls.sh /path/to/a/clone/of/github.com/cran/semPLS
# (tests/reference/pls/README.md gives the commit used: 96f0d593d824078adaff386fc3a5a4c6bf0683d2)
set -e
src="$1"
here=$(dirname "$0")
for scheme in pathWeighting centroid factorial; do
  mkdir -p "$here/smartpls/ecsi/$scheme"
  for f in outerWeights pathCoefficients crossLoadings totalEffects readMe; do
    git -C "$src" show 96f0d593d824078adaff386fc3a5a4c6bf0683d2:tests/SmartPLS/results/ecsi/$scheme/$f.txt \
      > "$here/smartpls/ecsi/$scheme/$f.txt"
  done
done
