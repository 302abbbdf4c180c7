# lavaan references for tests/test_fit_cli.py: listwise deletion on the data with missing
# values of tests/reference/lavaan (the FIML references are <name>.ml.json there).
# Run in this folder: Rscript make_reference.R   (R >= 4, lavaan 0.6-14; base R only otherwise)
suppressMessages(library(lavaan))
ref <- "../../reference/lavaan"
fits <- list(); ests <- list()
for (name in c("hs_fiml", "eco_fiml")) {
  csv <- c(hs_fiml = "hs_missing.csv", eco_fiml = "eco_missing.csv")[[name]]
  d <- read.csv(file.path(ref, csv))
  fit <- sem(readLines(file.path(ref, paste0(name, ".lav"))), data = d, missing = "listwise")
  fm <- fitMeasures(fit, c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr"))
  fits[[name]] <- data.frame(model = name, data = csv, rows = nrow(d), nobs = lavInspect(fit, "nobs"),
                             t(as.matrix(fm)), lavaan = as.character(packageVersion("lavaan")))
  pe <- parameterEstimates(fit, standardized = TRUE)
  ests[[name]] <- data.frame(model = name, pe[, c("lhs", "op", "rhs", "est", "se", "std.all")])
}
write.csv(do.call(rbind, fits), "listwise_fit.csv", row.names = FALSE)
write.csv(do.call(rbind, ests), "listwise_estimates.csv", row.names = FALSE)
