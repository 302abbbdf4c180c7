# Make lavaan 0.6-14 references for the ordinal (categorical) estimators
# (tests/test_sem_ordinal*.py): WLSMV and friends with ordered indicators.
#
# Usage (from this folder):  Rscript make_references_ordinal.R [--force]
#
# Every case is fitted with lavaan::sem(..., ordered = <items>, estimator = ...) and written
# as ord_<name>.json holding the options, `fit_measures` (everything fitMeasures() returns),
# `estimates` (parameterEstimates(fit, standardized = TRUE)), `r2` (lavInspect "r2"), the
# sample statistics (thresholds, polychoric/polyserial correlations as lavInspect "sampstat")
# and the diagonal of the NACOV (lavInspect "gamma").  The models are the ord_<model>.model.lav
# files (not <name>.lav: test_sem_parity.py fits every <name>.json with a <name>.lav by ML).
# Data: ../../data/bfi/bfi.csv (psych::bfi), ../../data/ecsi/mobi.csv (ECSI mobile phone),
# HolzingerSwineford1939.csv cut into categories as lavaan's documentation does
# (lapply(HS9, cut, 2, labels = FALSE); here also 3 categories), written to ord_hs_cut.csv.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
force <- "--force" %in% args
stopifnot(as.character(packageVersion("lavaan")) == "0.6.14")

hs <- read.csv("HolzingerSwineford1939.csv")
HS9 <- hs[, paste0("x", 1:9)]
cut2 <- as.data.frame(lapply(HS9, cut, 2, labels = FALSE))
cut3 <- as.data.frame(lapply(HS9, cut, 3, labels = FALSE))
names(cut2) <- paste0("b", 1:9)
names(cut3) <- paste0("c", 1:9)
hscut <- cbind(hs[, c("id", "sex", "school", paste0("x", 1:9))], cut2, cut3)
write.csv(hscut, "ord_hs_cut.csv", row.names = FALSE)

bfi <- read.csv("../../data/bfi/bfi.csv")
mobi <- read.csv("../../data/ecsi/mobi.csv")
items25 <- c(paste0("A", 1:5), paste0("C", 1:5), paste0("E", 1:5), paste0("N", 1:5), paste0("O", 1:5))

# name, data, ordered items, options
cases <- list(
  list(name = "bfi", data = "bfi", ordered = items25),
  list(name = "bfi_pairwise", model = "bfi", data = "bfi", ordered = items25, missing = "pairwise"),
  list(name = "bfi_mg", model = "bfi", data = "bfi", ordered = items25, group = "gender",
       group.equal = c("thresholds", "loadings")),
  list(name = "bfi_mg_theta", model = "bfi", data = "bfi", ordered = items25, group = "gender",
       group.equal = c("thresholds", "loadings"), parameterization = "theta"),
  list(name = "bfi_mg_partial", model = "bfi", data = "bfi", ordered = items25, group = "gender",
       group.equal = c("thresholds", "loadings"), group.partial = c("A1|t1", "O2|t3")),
  list(name = "mobi", data = "mobi", ordered = names(mobi)),
  list(name = "hs_binary", data = "hs", ordered = paste0("b", 1:9)),
  list(name = "hs3", data = "hs", ordered = paste0("c", 1:9)),
  list(name = "hs3_theta", model = "hs3", data = "hs", ordered = paste0("c", 1:9), parameterization = "theta"),
  list(name = "hs3_ulsmv", model = "hs3", data = "hs", ordered = paste0("c", 1:9), estimator = "ULSMV"),
  list(name = "hs3_wls", model = "hs3", data = "hs", ordered = paste0("c", 1:9), estimator = "WLS"),
  list(name = "hs3_dwls", model = "hs3", data = "hs", ordered = paste0("c", 1:9), estimator = "DWLS"),
  list(name = "hs3_mv", model = "hs3", data = "hs", ordered = paste0("c", 1:9), estimator = "DWLS",
       se = "robust.sem", test = "mean.var.adjusted"),
  list(name = "hs3_sem", data = "hs", ordered = paste0("c", 1:9)),
  list(name = "hs_mixed", data = "hs", ordered = paste0("c", 1:3)),
  list(name = "hs3_med", data = "hs", ordered = paste0("c", 1:9)),
  list(name = "hs3_uls", model = "hs3", data = "hs", ordered = paste0("c", 1:9), estimator = "ULS"),
  list(name = "hs3_wlsm", model = "hs3", data = "hs", ordered = paste0("c", 1:9), estimator = "WLSM"),
  list(name = "hs3_mg", model = "hs3", data = "hs", ordered = paste0("c", 1:9), group = "school")
)
datas <- list(bfi = bfi, mobi = mobi, hs = hscut)

for (cs in cases) {
  out <- paste0("ord_", cs$name, ".json")
  if (file.exists(out) && !force) next
  mname <- if (is.null(cs$model)) cs$name else cs$model
  model <- paste(readLines(paste0("ord_", mname, ".model.lav")), collapse = "\n")
  est <- if (is.null(cs$estimator)) "WLSMV" else cs$estimator
  test <- if (is.null(cs$test)) "default" else cs$test
  miss <- if (is.null(cs$missing)) "listwise" else cs$missing
  param <- if (is.null(cs$parameterization)) "delta" else cs$parameterization
  geq <- if (is.null(cs$group.equal)) "" else cs$group.equal
  gpa <- if (is.null(cs$group.partial)) "" else cs$group.partial
  se <- if (is.null(cs$se)) "default" else cs$se
  secs <- system.time(
    fit <- sem(model, data = datas[[cs$data]], ordered = cs$ordered, estimator = est, test = test, se = se,
               missing = miss, parameterization = param, group = cs$group, group.equal = geq, group.partial = gpa)
  )[["elapsed"]]
  fm <- fitMeasures(fit)
  pe <- parameterEstimates(fit, standardized = TRUE)
  ss <- lavInspect(fit, "sampstat")
  if (!is.null(cs$group)) ss <- ss else ss <- list(ss)
  gam <- try(lavInspect(fit, "gamma"), silent = TRUE)      # none for ULS with standard SEs
  if (inherits(gam, "try-error")) gam <- list() else if (!is.list(gam)) gam <- list(gam)
  r2 <- lavInspect(fit, "r2")
  if (!is.list(r2)) r2 <- list(r2)
  res <- list(
    lavaan_version = as.character(packageVersion("lavaan")),
    model_file = paste0("ord_", mname, ".model.lav"),
    data = cs$data, ordered = cs$ordered, estimator = est, test = lavInspect(fit, "options")$test,
    se = lavInspect(fit, "options")$se, missing = miss, parameterization = param,
    group = if (is.null(cs$group)) "" else cs$group, group_equal = as.list(geq[nchar(geq) > 0]),
    group_partial = as.list(gpa[nchar(gpa) > 0]),
    group_labels = as.list(lavInspect(fit, "group.label")),
    nobs = as.list(lavInspect(fit, "nobs")), converged = lavInspect(fit, "converged"),
    seconds = secs,
    fit_measures = as.list(setNames(as.numeric(fm), names(fm))),
    estimates = pe,
    r2 = lapply(r2, function(x) as.list(x)),
    sampstat = lapply(ss, function(s) list(th = as.list(s$th), cov = unname(as.matrix(s$cov)),
                                           names = colnames(s$cov))),
    gamma_diag = lapply(gam, function(g) as.numeric(diag(g)))
  )
  writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, na = "null", pretty = FALSE), out)
  cat(sprintf("%-14s chisq %.3f  scaled %.3f  df %d  %.2fs\n", cs$name, fm[["chisq"]],
              if ("chisq.scaled" %in% names(fm)) fm[["chisq.scaled"]] else NA, as.integer(fm[["df"]]), secs))
}

# ---- scaled chi-square difference (lavTestLRT, default method for WLSMV: satorra.2000) ----
out <- "ord_lrt_hs3.json"
if (!file.exists(out) || force) {
  m1 <- paste(readLines("ord_hs3.model.lav"), collapse = "\n")
  m0 <- paste(readLines("ord_hs3_equal.model.lav"), collapse = "\n")
  f1 <- sem(m1, data = hscut, ordered = paste0("c", 1:9))
  f0 <- sem(m0, data = hscut, ordered = paste0("c", 1:9))
  lrt <- lavTestLRT(f1, f0)
  writeLines(toJSON(list(lavaan_version = as.character(packageVersion("lavaan")),
                         models = c("ord_hs3.model.lav", "ord_hs3_equal.model.lav"), method = attr(lrt, "heading"),
                         table = cbind(model = rownames(lrt), as.data.frame(lrt))),
                    digits = NA, auto_unbox = TRUE, na = "null"), out)
  print(lrt)
}

# ---- the bivariate normal distribution lavaan uses (pbivnorm, Genz's algorithm) -------------
out <- "ord_pbivnorm.csv"
if (!file.exists(out) || force) {
  set.seed(20261206)
  n <- 300
  h <- rnorm(n) * 1.5; k <- rnorm(n) * 1.5; r <- runif(n, -0.999, 0.999)
  write.csv(data.frame(h = h, k = k, r = r, p = pbivnorm::pbivnorm(h, k, r)), out, row.names = FALSE)
}

# ---- modification indices of ordinal fits (modindices(), lavaan's row order) ------------------
mi_cases <- list(
  list(name = "hs3", model = "hs3", data = "hs", ordered = paste0("c", 1:9)),
  list(name = "bfi_mg", model = "bfi", data = "bfi", ordered = items25, group = "gender",
       group.equal = c("thresholds", "loadings"))
)
for (cs in mi_cases) {
  out <- paste0("ord_mi_", cs$name, ".json")
  if (file.exists(out) && !force) next
  model <- paste(readLines(paste0("ord_", cs$model, ".model.lav")), collapse = "\n")
  geq <- if (is.null(cs$group.equal)) "" else cs$group.equal
  fit <- sem(model, data = datas[[cs$data]], ordered = cs$ordered, group = cs$group, group.equal = geq)
  writeLines(toJSON(list(lavaan_version = as.character(packageVersion("lavaan")),
                         model_file = paste0("ord_", cs$model, ".model.lav"), data = cs$data,
                         ordered = cs$ordered, group = if (is.null(cs$group)) "" else cs$group,
                         group_equal = as.list(geq[nchar(geq) > 0]),
                         modindices = modindices(fit)),
                    digits = NA, auto_unbox = TRUE, na = "null"), out)
}

# ---- standardized solutions with delta-method SEs (standardizedSolution()) -----------------------
std_cases <- list(
  list(name = "hs3", model = "hs3", data = "hs", ordered = paste0("c", 1:9)),
  list(name = "hs3_med", model = "hs3_med", data = "hs", ordered = paste0("c", 1:9)),
  list(name = "hs3_theta", model = "hs3", data = "hs", ordered = paste0("c", 1:9), parameterization = "theta"),
  list(name = "hs_mixed", model = "hs_mixed", data = "hs", ordered = paste0("c", 1:3)),
  list(name = "bfi_mg", model = "bfi", data = "bfi", ordered = items25, group = "gender",
       group.equal = c("thresholds", "loadings"))
)
for (cs in std_cases) {
  out <- paste0("ord_std_", cs$name, ".json")
  if (file.exists(out) && !force) next
  model <- paste(readLines(paste0("ord_", cs$model, ".model.lav")), collapse = "\n")
  geq <- if (is.null(cs$group.equal)) "" else cs$group.equal
  param <- if (is.null(cs$parameterization)) "delta" else cs$parameterization
  fit <- sem(model, data = datas[[cs$data]], ordered = cs$ordered, group = cs$group, group.equal = geq,
             parameterization = param)
  writeLines(toJSON(list(lavaan_version = as.character(packageVersion("lavaan")),
                         model_file = paste0("ord_", cs$model, ".model.lav"), data = cs$data,
                         ordered = cs$ordered, group = if (is.null(cs$group)) "" else cs$group,
                         group_equal = as.list(geq[nchar(geq) > 0]), parameterization = param,
                         std_all = standardizedSolution(fit, type = "std.all"),
                         std_lv = standardizedSolution(fit, type = "std.lv")),
                    digits = NA, auto_unbox = TRUE, na = "null"), out)
}
