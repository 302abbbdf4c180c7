# References for crm_research.pls.predict / .mga (issue 14, helper P2).
#
# cSEM: github.com/M-E-Rademaker/cSEM at commit 7f96724 (0.5.0.9000), installed from source into a
#   private library; its dependencies alabama, expm, matrixcalc, combinat, multipol from the CRAN
#   mirrors on GitHub (cran/<pkg>); cSEM's Import of `symmoments` was removed from DESCRIPTION
#   before installing (cran/cubature, which symmoments needs, was not fully available; symmoments
#   is used only for nonlinear models' moments, not by anything below).
# semPLS: github.com/cran/semPLS (1.0-10), installed from source.
# R 4 here; run:  R_LIBS=/path/to/private/lib Rscript make_references_csem.R  (from this folder)
suppressMessages({library(cSEM); library(semPLS); library(jsonlite)})
out <- "."
data(satisfaction, package = "cSEM")
data(satisfaction_gender, package = "cSEM")
write.csv(satisfaction_gender, file.path(out, "satisfaction_gender.csv"), row.names = FALSE)

model <- "
EXPE ~ IMAG
QUAL ~ EXPE
VAL  ~ EXPE + QUAL
SAT  ~ IMAG + EXPE + QUAL + VAL
LOY  ~ IMAG + SAT
IMAG =~ imag1 + imag2 + imag3 + imag4 + imag5
EXPE =~ expe1 + expe2 + expe3 + expe4 + expe5
QUAL =~ qual1 + qual2 + qual3 + qual4 + qual5
VAL  =~ val1  + val2  + val3  + val4
SAT  =~ sat1  + sat2  + sat3  + sat4
LOY  =~ loy1  + loy2  + loy3  + loy4
"

## 1. predict(): train on rows 1-200 of satisfaction, predict rows 201-250 (.test_data, no randomness)
for (dis in c(FALSE, TRUE)) {
  fit <- csem(satisfaction[1:200, ], model, .disattenuate = dis, .PLS_weight_scheme_inner = "path",
              .tolerance = 1e-10, .iter_max = 1000)
  p <- cSEM::predict(fit, .test_data = satisfaction[201:250, ], .benchmark = "lm", .handle_inadmissibles = "ignore")
  pred <- as.data.frame(p$Predictions_target)
  write.csv(pred, file.path(out, sprintf("predict_test_%s.csv", if (dis) "plsc" else "pls")), row.names = FALSE)
}

## 2. testMGD(): Chin & Dibbern's permutation test and Henseler's PLS-MGA, paths, by gender
fit_g <- csem(satisfaction_gender, model, .id = "gender", .disattenuate = FALSE,
              .PLS_weight_scheme_inner = "path", .tolerance = 1e-10, .iter_max = 1000)
t0 <- Sys.time()
mgd <- testMGD(fit_g, .approach_mgd = c("Chin", "Henseler"), .R_permutation = 2000, .R_bootstrap = 2000,
               .seed = 2024, .handle_inadmissibles = "replace", .verbose = FALSE)
el <- as.numeric(Sys.time() - t0, units = "secs")
groups <- names(fit_g)
pair <- names(mgd$Chin$Test_statistic)[1]
paths <- names(mgd$Chin$Test_statistic[[1]])
paths <- paths[grepl(" ~ ", paths)]
res <- data.frame(
  parameter = paths,
  est_1 = sapply(paths, function(x) { s <- summarize(fit_g[[1]])$Estimates$Path_estimates; s$Estimate[s$Name == x] }),
  est_2 = sapply(paths, function(x) { s <- summarize(fit_g[[2]])$Estimates$Path_estimates; s$Estimate[s$Name == x] }),
  diff = unlist(mgd$Chin$Test_statistic[[1]][paths]),
  p_chin = unlist(mgd$Chin$P_value$none[[1]][paths]),
  p_henseler = unlist(mgd$Henseler$P_value$none[[1]][paths]),
  row.names = NULL)
write.csv(res, file.path(out, "mgd_gender_paths.csv"), row.names = FALSE)
writeLines(toJSON(list(groups = groups, pair = pair, R_permutation = 2000, R_bootstrap = 2000, seed = 2024,
                       group_sizes = sapply(fit_g, function(f) nrow(f$Information$Data)), seconds = el),
                  auto_unbox = TRUE, pretty = TRUE), file.path(out, "mgd_gender_info.json"))

## 3. semPLS qSquared(): blindfolding Q2, omission distance 7, point-wise omission (dlines = FALSE,
##    data points counted down each indicator), mean replacement, path weighting scheme, on ECSI mobi
data(mobi, package = "semPLS"); data(ECSImobi, package = "semPLS")
ecsi <- sempls(model = ECSImobi, data = mobi, wscheme = "pathWeighting", maxit = 1000, tol = 1e-10,
               verbose = FALSE)
q2 <- qSquared(ecsi, d = 7, impfun = semPLS:::meanrep, dlines = FALSE, wscheme = "pathWeighting", maxit = 1000,
               tol = 1e-10)
q2 <- data.frame(construct = rownames(q2), q2 = as.numeric(q2[, 1]))
write.csv(q2, file.path(out, "sempls_qsquared_mobi_d7.csv"), row.names = FALSE)
cat("done\n")
