# Make lavaan references for robust ML (tests/test_sem_robust*.py): MLM, MLMV, MLMVS, MLR,
# explicit se=/test= choices, fixed.x covariates, multiple groups with equality constraints,
# MLR (and ML) with missing = "ml", and scaled chi-square difference tests (lavTestLRT).
#
# Usage (from this folder):  Rscript make_references_robust.R [--force]
#
# Each case is written as robust_<name>.json holding the model syntax, the data file and the
# options it was fitted with, `fit_measures` (everything fitMeasures() returns), `estimates`
# (parameterEstimates(fit, standardized = TRUE)) and lavaan's options as it resolved them
# (se, test, information).  There is deliberately no robust_<name>.lav: the ML parity test
# (test_sem_parity.py) fits every <name>.lav with defaults; these cases need their options.
# Data: HolzingerSwineford1939.csv, PoliticalDemocracy.csv, hs_missing.csv, eco_missing.csv
# (this folder), ../../data/ecsi/mobi.csv (ECSI) and ../../data/bfi/bfi.csv (psych::bfi).
#
# Needs R >= 4, lavaan 0.6-14 and jsonlite.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
force <- "--force" %in% args
stopifnot(as.character(packageVersion("lavaan")) == "0.6.14")

HS_CFA <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
HS_CONSTR <- "visual =~ x1 + a*x2 + b*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\na == b"
HS_MED <- paste(readLines("hs_mediation.lav"), collapse = "\n")
SEED_COMBINED <- paste(readLines("seed_combined.lav"), collapse = "\n")
ECO_MG <- paste(readLines("eco_mg_config.lav"), collapse = "\n")
HS_MIMIC <- paste(readLines("hs_mimic.lav"), collapse = "\n")
POLDEM <- paste(readLines("poldem.lav"), collapse = "\n")
ECO <- paste(readLines("eco_fiml.lav"), collapse = "\n")
MOBI <- paste(
  "Image =~ IMAG1 + IMAG2 + IMAG3 + IMAG4 + IMAG5",
  "Expectation =~ CUEX1 + CUEX2 + CUEX3",
  "Quality =~ PERQ1 + PERQ2 + PERQ3 + PERQ4 + PERQ5 + PERQ6 + PERQ7",
  "Value =~ PERV1 + PERV2",
  "Satisfaction =~ CUSA1 + CUSA2 + CUSA3",
  "Complaints =~ CUSCO",
  "Loyalty =~ CUSL1 + CUSL2 + CUSL3",
  "Expectation ~ Image",
  "Quality ~ Expectation",
  "Value ~ Expectation + Quality",
  "Satisfaction ~ Image + Expectation + Quality + Value",
  "Complaints ~ Satisfaction",
  "Loyalty ~ Satisfaction + Image + Complaints", sep = "\n")
BFI <- paste(
  "A =~ A1 + A2 + A3 + A4 + A5",
  "C =~ C1 + C2 + C3 + C4 + C5",
  "E =~ E1 + E2 + E3 + E4 + E5",
  "N =~ N1 + N2 + N3 + N4 + N5",
  "O =~ O1 + O2 + O3 + O4 + O5", sep = "\n")

HS <- "HolzingerSwineford1939.csv"
PD <- "PoliticalDemocracy.csv"
MOBI_CSV <- "../../data/ecsi/mobi.csv"
BFI_CSV <- "../../data/bfi/bfi.csv"

# name, model, data, options (passed to sem())
cases <- list(
  hs_mlm      = list(HS_CFA, HS, list(estimator = "MLM")),
  hs_mlmv     = list(HS_CFA, HS, list(estimator = "MLMV")),
  hs_mlmvs    = list(HS_CFA, HS, list(estimator = "MLMVS")),
  hs_mlr      = list(HS_CFA, HS, list(estimator = "MLR")),
  hs_mlr_expected = list(HS_CFA, HS, list(estimator = "MLR", information = "expected")),
  hs_hw_sb    = list(HS_CFA, HS, list(estimator = "ML", se = "robust.huber.white", test = "satorra.bentler")),
  hs_mlm_means = list(HS_CFA, HS, list(estimator = "MLM", meanstructure = TRUE)),
  hs_mimic_mlm = list(HS_MIMIC, HS, list(estimator = "MLM")),
  hs_mimic_mlr = list(HS_MIMIC, HS, list(estimator = "MLR")),
  hs_mg_mlr_metric = list(HS_CFA, HS, list(estimator = "MLR", group = "school", group.equal = "loadings")),
  hs_mg_mlm_scalar = list(HS_CFA, HS, list(estimator = "MLM", group = "school",
                                           group.equal = c("loadings", "intercepts"))),
  hs_mg_mlmv_config = list(HS_CFA, HS, list(estimator = "MLMV", group = "school")),
  poldem_mlm  = list(POLDEM, PD, list(estimator = "MLM")),
  poldem_mlr  = list(POLDEM, PD, list(estimator = "MLR")),
  mobi_ml     = list(MOBI, MOBI_CSV, list(estimator = "ML")),
  mobi_mlr    = list(MOBI, MOBI_CSV, list(estimator = "MLR")),
  mobi_mlm    = list(MOBI, MOBI_CSV, list(estimator = "MLM")),
  mobi_mlmv   = list(MOBI, MOBI_CSV, list(estimator = "MLMV")),
  bfi_mlm     = list(BFI, BFI_CSV, list(estimator = "MLM")),
  bfi_mlr_fiml = list(BFI, BFI_CSV, list(estimator = "MLR", missing = "ml")),
  bfi_mg_mlr_fiml = list(BFI, BFI_CSV, list(estimator = "MLR", missing = "ml", group = "gender",
                                            group.equal = "loadings")),
  hs_ml_fiml  = list(HS_CFA, "hs_missing.csv", list(estimator = "ML", missing = "ml")),
  hs_mlr_fiml = list(HS_CFA, "hs_missing.csv", list(estimator = "MLR", missing = "ml")),
  hs_mg_mlr_fiml = list(HS_CFA, "hs_missing.csv", list(estimator = "MLR", missing = "ml", group = "school",
                                                       group.equal = "loadings")),
  eco_mlr_fiml = list(ECO, "eco_missing.csv", list(estimator = "MLR", missing = "ml")),
  # explicit equality constraints, observed information for ML, Yuan-Bentler with plain ML
  hs_constr_mlr = list(HS_CONSTR, HS, list(estimator = "MLR")),
  hs_constr_mlm = list(HS_CONSTR, HS, list(estimator = "MLM")),
  hs_ml_observed = list(HS_CFA, HS, list(estimator = "ML", information = "observed")),
  hs_ml_yb = list(HS_CFA, HS, list(estimator = "ML", test = "yuan.bentler.mplus")),
  # FIML with expected information; fixed.x covariates with a mean structure and two groups
  hs_mlr_fiml_expected = list(HS_CFA, "hs_missing.csv", list(estimator = "MLR", missing = "ml",
                                                             information = "expected")),
  hs_mimic_mg_mlr = list(HS_MIMIC, HS, list(estimator = "MLR", group = "school")),
  hs_mimic_mg_mlm = list(HS_MIMIC, HS, list(estimator = "MLM", group = "school", group.equal = "loadings")),
  # Yuan-Bentler, EQS variant (test = "yuan.bentler"): expected and observed information, FIML
  hs_ml_yb_eqs = list(HS_CFA, HS, list(estimator = "ML", test = "yuan.bentler")),
  hs_hw_yb_eqs = list(HS_CFA, HS, list(estimator = "ML", se = "robust.huber.white", test = "yuan.bentler")),
  hs_fiml_hw_yb_eqs = list(HS_CFA, "hs_missing.csv", list(estimator = "ML", missing = "ml",
                                                          se = "robust.huber.white", test = "yuan.bentler")),
  # defined parameters (:=) with robust SEs; a second-order survey model; grouped survey model
  hs_mediation_mlr = list(HS_MED, HS, list(estimator = "MLR")),
  hs_mediation_mlm = list(HS_MED, HS, list(estimator = "MLM")),
  seed_combined_mlr = list(SEED_COMBINED, "seed_survey_a.csv", list(estimator = "MLR")),
  seed_combined_mlmv = list(SEED_COMBINED, "seed_survey_a.csv", list(estimator = "MLMV")),
  eco_mg_mlr = list(ECO_MG, "seed_survey_groups.csv", list(estimator = "MLR", group = "segment")),
  # FIML with fixed.x covariates (lavaan deletes the rows with a missing covariate)
  hs_mimic_fiml_ml = list(HS_MIMIC, "hs_missing.csv", list(estimator = "ML", missing = "ml")),
  hs_mimic_fiml_mlr = list(HS_MIMIC, "hs_missing.csv", list(estimator = "MLR", missing = "ml")),
  # MLM with observed information; MLMVS with two groups and equal loadings
  hs_mlm_observed = list(HS_CFA, HS, list(estimator = "MLM", information = "observed")),
  hs_mg_mlmvs_metric = list(HS_CFA, HS, list(estimator = "MLMVS", group = "school", group.equal = "loadings")),
  poldem_mlmv = list(POLDEM, PD, list(estimator = "MLMV")),
  # saturated models (df = 0): scaling factors NA, robust RMSEA 0 as lavaan reports them
  hs_sat_mlm  = list("visual =~ x1 + x2 + x3", HS, list(estimator = "MLM")),
  hs_sat_mlr  = list("visual =~ x1 + x2 + x3", HS, list(estimator = "MLR")),
  hs_sat_mlmv = list("visual =~ x1 + x2 + x3", HS, list(estimator = "MLMV"))
)

fit_one <- function(cs) {
  data <- read.csv(cs[[2]], stringsAsFactors = FALSE)
  do.call("sem", c(list(model = cs[[1]], data = data), cs[[3]]))
}

for (nm in names(cases)) {
  out <- paste0("robust_", nm, ".json")
  if (file.exists(out) && !force) next
  cs <- cases[[nm]]
  t0 <- Sys.time()
  fit <- fit_one(cs)
  secs <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  fm <- fitMeasures(fit)
  est <- parameterEstimates(fit, standardized = TRUE)
  opt <- lavInspect(fit, "options")
  res <- list(
    lavaan_version = as.character(packageVersion("lavaan")),
    model = cs[[1]], data = cs[[2]], options = cs[[3]],
    resolved = list(estimator = opt$estimator, se = opt$se, test = as.list(opt$test),
                    information = as.list(opt$information),
                    observed_information = as.list(opt$observed.information),
                    missing = opt$missing, meanstructure = opt$meanstructure),
    group_labels = as.list(lavInspect(fit, "group.label")),
    nobs = as.list(lavInspect(fit, "nobs")),
    converged = lavInspect(fit, "converged"),
    seconds = secs,
    fit_measures = as.list(setNames(as.numeric(fm), names(fm))),
    estimates = est
  )
  writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, na = "null", pretty = FALSE), out)
  cat("wrote", out, "\n")
}

# ---- scaled chi-square difference tests (lavTestLRT, lavaan's default method) -----------
lrt <- list(
  lrt_hs_mg_mlm  = list(estimator = "MLM"),
  lrt_hs_mg_mlr  = list(estimator = "MLR"),
  lrt_hs_mg_mlmv = list(estimator = "MLMV"),
  lrt_hs_mg_fiml_mlr = list(estimator = "MLR", missing = "ml", .data = "hs_missing.csv")
)
steps <- list(config = "", metric = "loadings", scalar = c("loadings", "intercepts"))
for (nm in names(lrt)) {
  out <- paste0("robust_", nm, ".json")
  if (file.exists(out) && !force) next
  opts <- lrt[[nm]]
  dfile <- if (is.null(opts$.data)) HS else opts$.data
  opts$.data <- NULL
  data <- read.csv(dfile, stringsAsFactors = FALSE)
  fits <- lapply(steps, function(ge) do.call("sem", c(list(model = HS_CFA, data = data, group = "school",
                                                         group.equal = ge), opts)))
  tab <- do.call(lavTestLRT, c(unname(fits), list(model.names = names(steps))))
  res <- list(
    lavaan_version = as.character(packageVersion("lavaan")),
    model = HS_CFA, data = dfile, options = c(opts, list(group = "school")),
    steps = lapply(steps, as.list),
    method = attr(tab, "heading"),
    table = data.frame(model = rownames(tab), Df = tab$Df, AIC = tab$AIC, BIC = tab$BIC, Chisq = tab$Chisq,
                       Chisq.diff = tab[["Chisq diff"]], Df.diff = tab[["Df diff"]],
                       p = tab[["Pr(>Chisq)"]])
  )
  writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, na = "null", pretty = FALSE), out)
  cat("wrote", out, "\n")
}

# ---- lavTestLRT(method = "satorra.2000") for MLM and MLR fits ----------------------------
out <- "robust_lrt_hs_mg_s2000.json"
if (!file.exists(out) || force) {
  data <- read.csv(HS, stringsAsFactors = FALSE)
  rows <- lapply(c("MLM", "MLR"), function(e) {
    a <- sem(HS_CFA, data = data, group = "school", estimator = e)
    b <- sem(HS_CFA, data = data, group = "school", group.equal = "loadings", estimator = e)
    t <- lavTestLRT(a, b, method = "satorra.2000")
    data.frame(estimator = e, Chisq.diff = t[["Chisq diff"]][2], Df.diff = t[["Df diff"]][2],
               p = t[["Pr(>Chisq)"]][2])
  })
  res <- list(lavaan_version = as.character(packageVersion("lavaan")), model = HS_CFA, data = HS,
              steps = list(config = "", metric = "loadings"), method = "satorra.2000",
              table = do.call(rbind, rows))
  writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, na = "null", pretty = FALSE), out)
  cat("wrote", out, "\n")
}
