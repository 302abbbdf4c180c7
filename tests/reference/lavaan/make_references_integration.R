# Make lavaan references for the integration tests of issue 13 (helper I): the analyses a user
# meets (hypotheses.test_model, measurement.assess_measurement, invariance.measurement_invariance)
# fitted with a robust or ordinal estimator must give lavaan's numbers.
#
# Usage (from this folder):  Rscript make_references_integration.R [--force]
#
# Cases (int_<name>.json: model syntax, data, options, fit_measures, estimates
# (parameterEstimates(fit, standardized = TRUE)) and, for nested pairs, lavTestLRT):
#   int_mediated_mlr   the syntax test_model fits for hs_abilities.yaml, model "mediated" (single
#                      item SPD with x7 ~~ 0*x7, labelled paths, the indirect effect as :=), MLR;
#                      with its partial-mediation alternative and lavTestLRT(full, partial)
#                      (Satorra-Bentler 2001 scaled difference, lavaan's default for MLR)
#   int_inv_mlr        the 2-factor CFA of VIS/TXT (x1-x6) across school: configural, metric,
#                      scalar, MLR; lavTestLRT of each step against the previous one
#   int_cfa_wlsmv      the first-order CFA of VIS/TXT on the ordinal items c1-c6 of ord_hs_cut.csv
#                      (renamed x1-x6), ordered = all, WLSMV (delta parameterization)
#
# Needs R >= 4, lavaan 0.6-14 and jsonlite.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
force <- "--force" %in% args
stopifnot(as.character(packageVersion("lavaan")) == "0.6.14")

MEDIATED <- "VIS =~ x1 + x2 + x3
TXT =~ x4 + x5 + x6
SPD =~ x7
x7 ~~ 0*x7
TXT ~ ha*VIS
SPD ~ hc*TXT
ind_VIS_SPD := ha*hc"
PARTIAL <- "VIS =~ x1 + x2 + x3
TXT =~ x4 + x5 + x6
SPD =~ x7
x7 ~~ 0*x7
TXT ~ ha*VIS
SPD ~ hc*TXT + c*VIS
ind_VIS_SPD := ha*hc
total := c + ha*hc"
CFA2 <- "VIS =~ x1 + x2 + x3
TXT =~ x4 + x5 + x6"

pe <- function(fit) {
  e <- parameterEstimates(fit, standardized = TRUE)
  e[] <- lapply(e, function(x) if (is.numeric(x)) ifelse(is.finite(x), x, NA) else x)
  e
}
fm <- function(fit) {
  f <- fitMeasures(fit)
  as.list(setNames(ifelse(is.finite(unclass(f)), unclass(f), NA), names(f)))
}
lrt <- function(a, b) {
  t <- as.data.frame(lavTestLRT(a, b))
  list(chisq = t[["Chisq"]], df = t[["Df"]], chisq.diff = t[["Chisq diff"]][2], df.diff = t[["Df diff"]][2],
       pvalue = t[["Pr(>Chisq)"]][2], method = attr(lavTestLRT(a, b), "heading"))
}
out <- function(name, x) {
  path <- sprintf("int_%s.json", name)
  if (file.exists(path) && !force) { message("kept ", path); return(invisible()) }
  writeLines(toJSON(c(list(lavaan_version = as.character(packageVersion("lavaan"))), x), auto_unbox = TRUE,
                    digits = NA, na = "null", null = "null"), path)
  message("wrote ", path)
}

hs <- read.csv("HolzingerSwineford1939.csv")

# 1. test_model's mediated model and its partial-mediation alternative, MLR
full <- sem(MEDIATED, hs, estimator = "MLR")
part <- sem(PARTIAL, hs, estimator = "MLR")
out("mediated_mlr", list(model = MEDIATED, partial_model = PARTIAL, data = "HolzingerSwineford1939.csv",
                         options = list(estimator = "MLR"), fit_measures = fm(full), estimates = pe(full),
                         partial = list(fit_measures = fm(part), estimates = pe(part)), lrt = lrt(full, part)))

# 2. invariance steps across school, MLR
steps <- list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts"))
fits <- lapply(steps, function(ge) cfa(CFA2, hs, group = "school", estimator = "MLR", group.equal = ge))
out("inv_mlr", list(model = CFA2, data = "HolzingerSwineford1939.csv", group = "school",
                    options = list(estimator = "MLR"),
                    steps = lapply(fits, function(f) list(fit_measures = fm(f))),
                    lrt = list(metric = lrt(fits$configural, fits$metric), scalar = lrt(fits$metric, fits$scalar)),
                    group_labels = lavInspect(fits$configural, "group.label")))

# 3. ordinal CFA (WLSMV) on the cut items
cut <- read.csv("ord_hs_cut.csv")
d <- cut[, c("c1", "c2", "c3", "c4", "c5", "c6")]
names(d) <- paste0("x", 1:6)
w <- cfa(CFA2, d, ordered = names(d), estimator = "WLSMV")
out("cfa_wlsmv", list(model = CFA2, data = "ord_hs_cut.csv", rename = setNames(as.list(paste0("c", 1:6)),
                                                                              paste0("x", 1:6)),
                      options = list(estimator = "WLSMV", ordered = names(d)), fit_measures = fm(w),
                      estimates = pe(w)))

# 4. `crm-research fit` with --missing ml and fixed exogenous covariates (lavaan: FIML with x fixed)
pd <- read.csv("PoliticalDemocracy.csv")
pd$y1[4] <- NA          # row 4 (1-based), as tests/test_fit_cli.py blanks row index 3
PD_PATH <- paste(readLines("pd_path.lav"), collapse = "\n")
f <- sem(PD_PATH, pd, missing = "ml")
out("pd_path_fiml", list(model = PD_PATH, data = "PoliticalDemocracy.csv with y1 of row 4 blank",
                         options = list(missing = "ml"), nobs = lavInspect(f, "nobs"), fit_measures = fm(f),
                         estimates = pe(f)))
