"""The standard bivariate normal distribution, vectorized: ``P(X <= h, Y <= k)`` for
correlation ``r`` (Genz, 2004, "Numerical computation of rectangular bivariate and trivariate
normal and t probabilities", Statistics and Computing 14, 251-260: the Drezner-Wesolowsky
method with Gauss-Legendre quadrature, about 1e-15 accurate; the algorithm of the
``pbivnorm`` package lavaan calls), its density and derivatives.

Every function takes arrays of any (broadcastable) shape; infinite limits are handled.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

def _half_nodes(n):
    x, w = np.polynomial.legendre.leggauss(n)
    return x[:n // 2], w[:n // 2]           # the negative half: Genz uses (1 - x) and (1 + x)


_X20, _W20 = _half_nodes(20)
# Genz's rule: 6 nodes for |r| < 0.3, 12 for |r| < 0.75, 20 beyond
_RULES = ((0.3, _half_nodes(6)), (0.75, _half_nodes(12)), (0.925, (_X20, _W20)))
_TWOPI = 2.0 * np.pi


def _bvnu(h, k, r):
    """P(X > h, Y > k) for finite h, k and |r| < 1 (Genz's BVNU), flat arrays."""
    out = np.empty_like(h)
    hk = h * k
    small = np.abs(r) < 0.925
    lower = 0.0
    for upper, (X, W) in _RULES:
        sel = (np.abs(r) >= lower) & (np.abs(r) < upper)
        lower = upper
        if not sel.any():
            continue
        hs_, ks_, rs_, hk_ = h[sel], k[sel], r[sel], hk[sel]
        hs = 0.5 * (hs_ * hs_ + ks_ * ks_)
        asr = np.arcsin(rs_)
        sn1 = np.sin(asr[:, None] * (1.0 - X[None, :]) * 0.5)
        sn2 = np.sin(asr[:, None] * (1.0 + X[None, :]) * 0.5)
        t = (W * (np.exp((sn1 * hk_[:, None] - hs[:, None]) / (1.0 - sn1 * sn1))
                  + np.exp((sn2 * hk_[:, None] - hs[:, None]) / (1.0 - sn2 * sn2)))).sum(axis=1)
        out[sel] = t * asr / (2.0 * _TWOPI) + ndtr(-hs_) * ndtr(-ks_)
    big = ~small
    if big.any():
        hb, kb, rb = h[big], k[big], r[big]
        neg = rb < 0
        kb = np.where(neg, -kb, kb)
        hkb = hb * kb
        bvn = np.zeros_like(hb)
        inner = np.abs(rb) < 1
        if inner.any():
            hi, ki, ri, hki = hb[inner], kb[inner], rb[inner], hkb[inner]
            as_ = (1.0 - ri) * (1.0 + ri)
            a = np.sqrt(as_)
            bs = (hi - ki) ** 2
            c = (4.0 - hki) / 8.0
            d = (12.0 - hki) / 16.0
            v = a * np.exp(-(bs / as_ + hki) / 2.0) * (1.0 - c * (bs - as_) * (1.0 - d * bs / 5.0) / 3.0
                                                       + c * d * as_ * as_ / 5.0)
            b = np.sqrt(bs)
            corr = np.exp(-hki / 2.0) * np.sqrt(_TWOPI) * ndtr(-b / a) * b * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0)
            v = v - np.where(hki > -160.0, corr, 0.0)
            a2 = a / 2.0
            for sgn in (-1.0, 1.0):
                xs = (a2[:, None] * (sgn * _X20[None, :] + 1.0)) ** 2
                rs = np.sqrt(1.0 - xs)
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    term = (np.exp(-bs[:, None] / (2.0 * xs) - hki[:, None] / (1.0 + rs)) / rs
                            - np.exp(-(bs[:, None] / xs + hki[:, None]) / 2.0)
                            * (1.0 + c[:, None] * xs * (1.0 + d[:, None] * xs)))
                term = np.where(np.isfinite(term), term, 0.0)
                v = v + (a2[:, None] * _W20[None, :] * term).sum(axis=1)
            bvn[inner] = -v / _TWOPI
        pos_out = bvn + ndtr(-np.maximum(hb, kb))
        neg_out = -bvn + np.where(kb > hb, ndtr(kb) - ndtr(hb), 0.0)
        out[big] = np.where(neg, neg_out, pos_out)
    return out


def bvn_cdf(h, k, r):
    """``P(X <= h, Y <= k)`` for standard bivariate normal (X, Y) with correlation ``r``.

    Parameters
    ----------
    h, k : array-like
        Upper limits (``-inf``/``inf`` allowed).
    r : array-like
        Correlations in [-1, 1].

    Returns
    -------
    ndarray
        The probabilities, broadcast shape of the inputs.

    Examples
    --------
    >>> round(float(bvn_cdf(0.0, 0.0, 0.5)), 10)   # 1/4 + asin(0.5)/(2 pi)
    0.3333333333
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    shape = h.shape
    h, k, r = h.ravel(), k.ravel(), r.ravel()
    out = np.zeros(h.shape)
    ninf = np.isneginf(h) | np.isneginf(k)
    hpinf = np.isposinf(h)
    kpinf = np.isposinf(k)
    fin = ~ninf & ~hpinf & ~kpinf
    out[~ninf & hpinf & kpinf] = 1.0
    m = ~ninf & hpinf & ~kpinf
    out[m] = ndtr(k[m])
    m = ~ninf & kpinf & ~hpinf
    out[m] = ndtr(h[m])
    if fin.any():
        out[fin] = _bvnu(-h[fin], -k[fin], r[fin])
    return np.clip(out, 0.0, 1.0).reshape(shape)


def bvn_pdf(h, k, r):
    """Bivariate normal density at (h, k) with correlation r (0 at infinite limits).

    Examples
    --------
    >>> round(float(bvn_pdf(0.0, 0.0, 0.0)), 6)
    0.159155
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    fin = np.isfinite(h) & np.isfinite(k)
    hh, kk = np.where(fin, h, 0.0), np.where(fin, k, 0.0)
    s2 = 1.0 - r * r
    q = (hh * hh - 2.0 * r * hh * kk + kk * kk) / s2
    return np.where(fin, np.exp(-0.5 * q) / (_TWOPI * np.sqrt(s2)), 0.0)


def bvn_pdf_drho(h, k, r):
    """Derivative of the bivariate normal density with respect to the correlation.

    Examples
    --------
    >>> h = 1e-6
    >>> num = (bvn_pdf(0.3, -0.2, 0.5 + h) - bvn_pdf(0.3, -0.2, 0.5 - h)) / (2 * h)
    >>> bool(abs(bvn_pdf_drho(0.3, -0.2, 0.5) - num) < 1e-8)
    True
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    fin = np.isfinite(h) & np.isfinite(k)
    hh, kk = np.where(fin, h, 0.0), np.where(fin, k, 0.0)
    s2 = 1.0 - r * r
    q = hh * hh - 2.0 * r * hh * kk + kk * kk
    dlog = r / s2 + hh * kk / s2 - r * q / (s2 * s2)
    return bvn_pdf(h, k, r) * np.where(fin, dlog, 0.0)


def bvn_cdf_dh(h, k, r):
    """dP(X <= h, Y <= k)/dh = phi(h) Phi((k - r h) / sqrt(1 - r^2)); 0 where h is infinite.

    Examples
    --------
    >>> h = 1e-6
    >>> num = (bvn_cdf(0.3 + h, -0.2, 0.5) - bvn_cdf(0.3 - h, -0.2, 0.5)) / (2 * h)
    >>> bool(abs(bvn_cdf_dh(0.3, -0.2, 0.5) - num) < 1e-8)
    True
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    finh = np.isfinite(h)
    hh = np.where(finh, h, 0.0)
    with np.errstate(invalid="ignore"):
        z = (k - r * hh) / np.sqrt(1.0 - r * r)
    dens = np.exp(-0.5 * hh * hh) / np.sqrt(_TWOPI)
    return np.where(finh, dens * ndtr(z), 0.0)
