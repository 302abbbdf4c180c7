# Make the lavaan / psych references of the diagnostics tests (issue 13, helper D):
# modification indices (mi_*.json), score tests for equality constraints (score_*.json),
# standardized solutions with delta-method SEs (std_*.json), bootstrap intervals of every
# lavaan type together with the replicates and resample frequencies they came from
# (boot_*.json + boot_*_freq.csv.gz), and Mardia's multivariate skewness/kurtosis with
# per-item skew/kurtosis (mardia_*.json).
#
# Usage (from this folder):  Rscript make_references_diagnostics.R [--force]
# Needs R >= 4, lavaan 0.6-14, psych and jsonlite.  Existing files are kept unless --force.
# Checked by tests/test_sem_modindices.py, tests/test_sem_bootstrap_ci.py and
# tests/test_normality.py.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
  library(psych)
})
args <- commandArgs(trailingOnly = TRUE)
force <- "--force" %in% args
stopifnot(as.character(packageVersion("lavaan")) == "0.6.14")

HS <- read.csv("HolzingerSwineford1939.csv", stringsAsFactors = FALSE)
PD <- read.csv("PoliticalDemocracy.csv", stringsAsFactors = FALSE)
MOBI <- read.csv("../../data/ecsi/mobi.csv", stringsAsFactors = FALSE)
BFI <- read.csv("../../data/bfi/bfi.csv", stringsAsFactors = FALSE)
HSM <- read.csv("hs_missing.csv", stringsAsFactors = FALSE)
SEEDA <- read.csv("seed_survey_a.csv", stringsAsFactors = FALSE)
SEEDG <- read.csv("seed_survey_groups.csv", stringsAsFactors = FALSE)
lav <- function(name) paste(readLines(paste0(name, ".lav")), collapse = "\n")
write_json_ref <- function(obj, out) {
  obj$provenance <- list(script = "make_references_diagnostics.R",
                         lavaan = as.character(packageVersion("lavaan")),
                         psych = as.character(packageVersion("psych")),
                         R = R.version.string)
  writeLines(toJSON(obj, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE), out)
  cat("wrote", out, "\n")
}
todo <- function(out) force || !file.exists(out)

# ---- modification indices (lavaan's order: sort. = FALSE, every row) --------------------
mi_cases <- list(
  list(name = "mi_hs_cfa", model = "hs_cfa", data = HS, group = NULL, equal = "", estimator = "ML"),
  list(name = "mi_poldem", model = "poldem", data = PD, group = NULL, equal = "", estimator = "ML"),
  list(name = "mi_pd_path", model = "pd_path", data = PD, group = NULL, equal = "", estimator = "ML"),
  list(name = "mi_hs_mediation", model = "hs_mediation", data = HS, group = NULL, equal = "", estimator = "ML"),
  list(name = "mi_hs_mg_metric", model = "hs_mg_metric", data = HS, group = "school", equal = "loadings",
       estimator = "ML"),
  list(name = "mi_hs_mg_config", model = "hs_mg_config", data = HS, group = "school", equal = "",
       estimator = "ML"),
  list(name = "mi_mobi", model = "ecsi24", data = MOBI, group = NULL, equal = "", estimator = "ML"),
  list(name = "mi_mobi_mlr", model = "ecsi24", data = MOBI, group = NULL, equal = "", estimator = "MLR"),
  list(name = "mi_hs_means", model = "hs_means", data = HS, group = NULL, equal = "", estimator = "ML"),
  list(name = "mi_seed_combined", model = "seed_combined", data = SEEDA, group = NULL, equal = "", estimator = "ML"),
  list(name = "mi_eco_mg_metric", model = "eco_mg_metric", data = SEEDG, group = "segment", equal = "loadings",
       estimator = "ML"),
  list(name = "mi_hs_fiml", model = "hs_fiml", data = HSM, group = NULL, equal = "", estimator = "ML",
       missing = "ml"),
  list(name = "mi_hs_mg_fiml", model = "hs_mg_fiml", data = HSM, group = "school", equal = "loadings",
       estimator = "ML", missing = "ml")
)
for (cs in mi_cases) {
  out <- paste0(cs$name, ".json")
  if (!todo(out)) next
  miss <- if (is.null(cs$missing)) "listwise" else cs$missing
  fit <- if (is.null(cs$group)) sem(lav(cs$model), data = cs$data, estimator = cs$estimator, missing = miss)
         else sem(lav(cs$model), data = cs$data, group = cs$group, group.equal = cs$equal,
                  estimator = cs$estimator, missing = miss)
  t0 <- Sys.time()
  mi <- modindices(fit)
  secs <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  keep <- intersect(c("lhs", "op", "rhs", "group", "mi", "epc", "sepc.lv", "sepc.all", "sepc.nox"), names(mi))
  pe <- parameterEstimates(fit)
  pe <- as.data.frame(pe)[, intersect(c("lhs", "op", "rhs", "group", "est"), names(pe))]
  write_json_ref(list(model = cs$model, estimator = cs$estimator, group = cs$group,
                      group_equal = cs$equal, seconds = secs, estimates = pe,
                      modindices = as.data.frame(mi)[, keep]), out)
}

# ---- score tests (lavTestScore) ------------------------------------------------------------
score_cases <- list(
  list(name = "score_hs_mg_metric", model = "hs_mg_metric", data = HS, group = "school", equal = "loadings"),
  list(name = "score_hs_mg_scalar", model = "hs_mg_scalar", data = HS, group = "school",
       equal = c("loadings", "intercepts")),
  list(name = "score_hs_equal", model = "hs_equal", data = HS, group = NULL, equal = "")
)
for (cs in score_cases) {
  out <- paste0(cs$name, ".json")
  if (!todo(out)) next
  fit <- if (is.null(cs$group)) sem(lav(cs$model), data = cs$data)
         else sem(lav(cs$model), data = cs$data, group = cs$group, group.equal = cs$equal)
  st <- lavTestScore(fit, cumulative = TRUE)
  rel <- lavTestScore(fit, release = 1:2)
  pt <- parTable(fit)
  write_json_ref(list(model = cs$model, group = cs$group, group_equal = cs$equal,
                      test = as.data.frame(st$test), uni = as.data.frame(st$uni),
                      cumulative = as.data.frame(st$cumulative),
                      release_1_2 = list(test = as.data.frame(rel$test), uni = as.data.frame(rel$uni)),
                      constraints = as.data.frame(pt[pt$op == "==", c("lhs", "op", "rhs")])), out)
}

# ---- standardized solutions with delta-method SEs ---------------------------------------
std_cases <- list(
  list(name = "std_hs_cfa", model = "hs_cfa", data = HS, group = NULL, equal = ""),
  list(name = "std_poldem", model = "poldem", data = PD, group = NULL, equal = ""),
  list(name = "std_pd_path", model = "pd_path", data = PD, group = NULL, equal = ""),
  list(name = "std_hs_mediation", model = "hs_mediation", data = HS, group = NULL, equal = ""),
  list(name = "std_hs_mg_metric", model = "hs_mg_metric", data = HS, group = "school", equal = "loadings")
)
std_cases <- c(std_cases, list(
  list(name = "std_hs_mediation_mlr", model = "hs_mediation", data = HS, group = NULL, equal = "", estimator = "MLR"),
  list(name = "std_poldem_mlm", model = "poldem", data = PD, group = NULL, equal = "", estimator = "MLM"),
  list(name = "std_hs_fiml", model = "hs_fiml", data = HSM, group = NULL, equal = "", missing = "ml")
))
for (cs in std_cases) {
  out <- paste0(cs$name, ".json")
  if (!todo(out)) next
  est <- if (is.null(cs$estimator)) "ML" else cs$estimator
  miss <- if (is.null(cs$missing)) "listwise" else cs$missing
  fit <- if (is.null(cs$group)) sem(lav(cs$model), data = cs$data, estimator = est, missing = miss)
         else sem(lav(cs$model), data = cs$data, group = cs$group, group.equal = cs$equal)
  res <- list(model = cs$model, group = cs$group, group_equal = cs$equal, estimator = est, missing = miss)
  for (type in c("std.all", "std.lv", "std.nox")) {
    ss <- as.data.frame(standardizedSolution(fit, type = type))
    res[[type]] <- ss
  }
  write_json_ref(res, out)
}

# ---- bootstrap intervals of every type, with the replicates and resample frequencies ----
# lavaan draws the replicates; the JSON keeps them (`boot`, one row per successful
# replicate, columns = free parameters in lavaan's order) and the gzipped CSV the resample
# frequencies (`lav_utils_bootstrap_indices(return.freq = TRUE, merge.groups = TRUE)`, as
# parameterEstimates() recomputes them for BCa), so the tests recompute every interval from
# lavaan's own draws.
boot_cases <- list(
  list(name = "boot_hs_mediation", model = "hs_mediation", data = HS, group = NULL, equal = "", R = 400L),
  list(name = "boot_hs_mg_metric", model = "hs_mg_metric", data = HS, group = "school", equal = "loadings",
       R = 400L)
)
for (cs in boot_cases) {
  out <- paste0(cs$name, ".json")
  if (!todo(out)) next
  set.seed(20261206)
  fit <- if (is.null(cs$group)) sem(lav(cs$model), data = cs$data, se = "bootstrap", bootstrap = cs$R)
         else sem(lav(cs$model), data = cs$data, group = cs$group, group.equal = cs$equal,
                  se = "bootstrap", bootstrap = cs$R)
  BOOT <- lavInspect(fit, "boot")
  err <- attr(BOOT, "error.idx")
  FREQ <- lavaan:::lav_utils_bootstrap_indices(R = cs$R, nobs = fit@SampleStats@nobs,
                                                iseed = attr(BOOT, "seed"), return.freq = TRUE,
                                                merge.groups = TRUE)
  if (length(err) > 0L) { FREQ <- FREQ[-err, , drop = FALSE]; BOOT <- BOOT[-err, , drop = FALSE] }
  gz <- gzfile(paste0(cs$name, "_freq.csv.gz"), "w")
  write.table(FREQ, gz, sep = ",", row.names = FALSE, col.names = FALSE)
  close(gz)
  cis <- list()
  for (type in c("perc", "bca.simple", "bca", "norm", "basic")) {
    pe <- as.data.frame(parameterEstimates(fit, boot.ci.type = type))
    cis[[type]] <- pe[, c("ci.lower", "ci.upper")]
  }
  pe <- as.data.frame(parameterEstimates(fit, boot.ci.type = "perc"))
  keep <- intersect(c("lhs", "op", "rhs", "group", "label", "est", "se"), names(pe))
  first.idx <- sapply(fit@Data@case.idx, "[[", 1L)
  write_json_ref(list(model = cs$model, group = cs$group, group_equal = cs$equal, R = cs$R,
                      n_ok = nrow(BOOT), first_case = first.idx,
                      free_names = colnames(BOOT), boot = unname(BOOT),
                      estimates = pe[, keep], ci = cis,
                      case_order = fit@Data@case.idx), out)
}

# ---- Mardia and item distributions (psych) ------------------------------------------
mardia_cases <- list(
  list(name = "mardia_hs", data = HS, items = paste0("x", 1:9)),
  list(name = "mardia_mobi", data = MOBI, items = names(MOBI)),
  list(name = "mardia_bfi", data = BFI, items = c(paste0("A", 1:5), paste0("C", 1:5), paste0("E", 1:5),
                                                  paste0("N", 1:5), paste0("O", 1:5)))
)
for (cs in mardia_cases) {
  out <- paste0(cs$name, ".json")
  if (!todo(out)) next
  X <- cs$data[, cs$items]
  m <- psych::mardia(X, plot = FALSE)
  write_json_ref(list(items = cs$items, n_obs = m$n.obs, n_var = m$n.var, b1p = m$b1p, b2p = m$b2p,
                      skew = m$skew, small_skew = m$small.skew, p_skew = m$p.skew, p_small = m$p.small,
                      kurtosis = m$kurtosis, p_kurt = m$p.kurt,
                      item_skew = unname(psych::skew(X)), item_kurtosis = unname(psych::kurtosi(X)),
                      item_skew_type2 = unname(psych::skew(X, type = 2)),
                      item_kurtosis_type2 = unname(psych::kurtosi(X, type = 2))), out)
}
