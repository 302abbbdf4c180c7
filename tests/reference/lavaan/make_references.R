# Make lavaan reference outputs for the parity tests (tests/test_sem_parity.py).
#
# Usage (from this folder):  Rscript make_references.R [--force]
#
# Every case below is fitted with lavaan::sem() using lavaan's defaults (ML, listwise
# deletion, expected information, fixed.x = TRUE) and written as <name>.json holding
# `fit_measures` (everything fitMeasures() returns) and `estimates`
# (parameterEstimates(fit, standardized = TRUE)), the same layout as the five shipped
# references.  manifest.csv says which data file and options belong to each model.
# Existing JSON files are left alone unless --force is given.
#
# Needs R >= 4, lavaan 0.6-14 and jsonlite (apt-get install r-base-core r-cran-lavaan
# r-cran-jsonlite).
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
force <- "--force" %in% args

stopifnot(as.character(packageVersion("lavaan")) == "0.6.14")

# ---- data made here -------------------------------------------------------------------
# heywood.csv: 4 indicators whose population correlations imply a first loading above 1
# (r12 = r13 = r14 = .80, r23 = r24 = r34 = .50 -> lambda1^2 = 1.28), so ML returns a
# negative residual variance for y1 (a Heywood case).  Exact sample moments.
if (!file.exists("heywood.csv")) {
  set.seed(20240601)
  R <- matrix(0.5, 4, 4); diag(R) <- 1
  R[1, 2:4] <- R[2:4, 1] <- 0.8
  ev <- eigen(R, symmetric = TRUE)
  stopifnot(all(ev$values > 0))
  Z <- matrix(rnorm(200 * 4), 200, 4)
  Z <- scale(Z, center = TRUE, scale = FALSE)
  Z <- Z %*% solve(chol(cov(Z))) %*% chol(R)      # sample covariance exactly R
  X <- sweep(Z, 2, c(3, 3, 3, 3), "+")
  colnames(X) <- paste0("y", 1:4)
  write.csv(round(as.data.frame(X), 10), "heywood.csv", row.names = FALSE)
}

# ---- cases ------------------------------------------------------------------------------
# name, data, group ("" = none), group.equal (";"-separated), what it exercises,
# missing ("" = listwise, "ml" = full-information ML; the incomplete samples hs_missing.csv
# and eco_missing.csv are made by make_missing_data.py from the repository root)
cases <- read.csv("manifest.csv", stringsAsFactors = FALSE, na.strings = character(0))

for (i in seq_len(nrow(cases))) {
  cs <- cases[i, ]
  # missing = "ml" (FIML) cases are written as <name>.ml.json (checked by
  # tests/test_sem_missing.py); "" = lavaan's default listwise deletion
  miss <- if (!is.null(cs$missing) && nchar(cs$missing) > 0) cs$missing else "listwise"
  out <- paste0(cs$name, if (miss == "ml") ".ml.json" else ".json")
  if (file.exists(out) && !force) next
  model <- paste(readLines(paste0(cs$name, ".lav")), collapse = "\n")
  data <- read.csv(cs$data, stringsAsFactors = FALSE)
  group <- if (nchar(cs$group) > 0) cs$group else NULL
  group.equal <- if (nchar(cs$group_equal) > 0) strsplit(cs$group_equal, ";")[[1]] else ""
  t0 <- Sys.time()
  fit <- if (is.null(group)) {
    sem(model, data = data, missing = miss)
  } else {
    sem(model, data = data, group = group, group.equal = group.equal, missing = miss)
  }
  secs <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  fm <- fitMeasures(fit)
  est <- parameterEstimates(fit, standardized = TRUE)
  res <- list(
    lavaan_version = as.character(packageVersion("lavaan")),
    estimator = "ML",
    missing = miss,
    information = lavInspect(fit, "options")$information[1],
    group = if (is.null(group)) setNames(list(), character(0)) else group,
    group_equal = if (is.null(group)) list() else as.list(group.equal[nchar(group.equal) > 0]),
    group_labels = if (is.null(group)) list() else as.list(lavInspect(fit, "group.label")),
    nobs = as.list(lavInspect(fit, "nobs")),
    converged = lavInspect(fit, "converged"),
    post_check = suppressWarnings(lavInspect(fit, "post.check")),
    seconds = secs,
    fit_measures = as.list(setNames(as.numeric(fm), names(fm))),
    estimates = est
  )
  writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, na = "null", pretty = FALSE), out)
  cat("wrote", out, "\n")
}

# ---- bootstrap reference ---------------------------------------------------------------
# hs_mediation_boot.json: lavaan's bootstrap (se = "bootstrap", R = 2000, set.seed(1)) of
# hs_mediation.lav: bootstrap SEs and percentile / bca.simple intervals of every free and
# defined parameter.  Our bootstrap uses another random stream, so tests compare these up
# to Monte Carlo error.  lavaan keeps nonadmissible replicates; the count is recorded.
if (!file.exists("hs_mediation_boot.json") || force) {
  model <- paste(readLines("hs_mediation.lav"), collapse = "\n")
  data <- read.csv("HolzingerSwineford1939.csv")
  set.seed(1)
  t0 <- Sys.time()
  fit <- sem(model, data = data, se = "bootstrap", bootstrap = 2000)
  secs <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  perc <- parameterEstimates(fit, boot.ci.type = "perc")
  bc <- parameterEstimates(fit, boot.ci.type = "bca.simple")
  boot <- lavInspect(fit, "boot")
  res <- list(
    lavaan_version = as.character(packageVersion("lavaan")), R = 2000L,
    n_ok = nrow(boot) - length(attr(boot, "error.idx")), seconds = secs,
    estimates = data.frame(lhs = perc$lhs, op = perc$op, rhs = perc$rhs, est = perc$est, se = perc$se,
                           perc.lower = perc$ci.lower, perc.upper = perc$ci.upper,
                           bc.lower = bc$ci.lower, bc.upper = bc$ci.upper)
  )
  writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, na = "null"), "hs_mediation_boot.json")
  cat("wrote hs_mediation_boot.json\n")
}

# ---- grouped e-commerce references (eco_mg_*, hs_mg_metric, hs_mg_strict) -------------
# seed_survey_groups.csv (two segments of 300 simulated respondents whose SAT ~ OPS path
# differs, .60 vs .15) is made in Python by make_grouped_survey.py from the project's
# simulator; the manifest loop above fits eco_mg_config / eco_mg_metric / eco_mg_h1equal
# (configural, metric, metric + H1 equal across groups) and hs_mg_metric / hs_mg_strict.
# They back tests/test_invariance.py (measurement_invariance, compare_paths).  Make the CSV
# first (python tests/reference/lavaan/make_grouped_survey.py from the repository root):
# the loop above reads it.

# ---- single-item references (hs_si_*, eco_si_fiml) -------------------------------------
# Their .lav files are written by make_single_item.py (python tests/reference/lavaan/
# make_single_item.py from the repository root): a single-item construct F =~ x with its
# error variance fixed, x ~~ 0*x or x ~~ v*x with v = (1 - reliability) var(x) printed with 17
# significant digits.  The manifest loop above fits them like every other case.

# ---- chi-square difference tests (lavTestLRT) ------------------------------------------
# lrt_<name>.json: lavaan's anova() / lavTestLRT() table of nested models listed below, each
# fitted as its manifest line says (data, group, group.equal, missing).  Columns as lavaan
# prints them: Df, AIC, BIC, Chisq, Chisq diff, RMSEA, Df diff, Pr(>Chisq); rows in lavaan's
# order (fewest df first).  Checked by tests/test_sem_compare.py.
lrt_cases <- list(
  lrt_hs_si = c("hs_si_zero", "hs_si_restricted"),
  lrt_hs_mg = c("hs_mg_config", "hs_mg_metric", "hs_mg_scalar", "hs_mg_strict"),
  lrt_eco_si_fiml = c("eco_si_fiml_partial", "eco_si_fiml")
)
fit_case <- function(name) {
  cs <- cases[cases$name == name, ]
  stopifnot(nrow(cs) == 1)
  miss <- if (nchar(cs$missing) > 0) cs$missing else "listwise"
  model <- paste(readLines(paste0(name, ".lav")), collapse = "\n")
  data <- read.csv(cs$data, stringsAsFactors = FALSE)
  if (nchar(cs$group) > 0) {
    ge <- if (nchar(cs$group_equal) > 0) strsplit(cs$group_equal, ";")[[1]] else ""
    sem(model, data = data, group = cs$group, group.equal = ge, missing = miss)
  } else {
    sem(model, data = data, missing = miss)
  }
}
for (nm in names(lrt_cases)) {
  out <- paste0(nm, ".json")
  if (file.exists(out) && !force) next
  fits <- lapply(lrt_cases[[nm]], fit_case)
  tab <- do.call(lavTestLRT, c(fits, list(model.names = lrt_cases[[nm]])))
  res <- list(
    lavaan_version = as.character(packageVersion("lavaan")),
    models = as.list(lrt_cases[[nm]]),
    table = data.frame(model = rownames(tab), Df = tab$Df, AIC = tab$AIC, BIC = tab$BIC, Chisq = tab$Chisq,
                       Chisq.diff = tab[["Chisq diff"]], RMSEA = tab$RMSEA, Df.diff = tab[["Df diff"]],
                       p = tab[["Pr(>Chisq)"]])
  )
  writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, na = "null", pretty = FALSE), out)
  cat("wrote", out, "\n")
}
