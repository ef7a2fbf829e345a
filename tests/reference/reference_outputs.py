"""Recompute the reference outputs in this folder from eu27_mirror_flows_2010_2019.csv.

Computed by the hub research note (not published numbers). Needs numpy and pandas.
Usage: python reference_outputs.py   (writes reference_*_2016.csv next to this file)
"""
import os

import numpy as np
import pandas as pd

OUT = os.path.dirname(os.path.abspath(__file__))
fx = pd.read_csv(f"{OUT}/eu27_mirror_flows_2010_2019.csv")
YEAR, REF = 2016, "SE"
y = fx[(fx.year == YEAR)].copy()
both = y[y.emi_reported_by_origin.notna() & y.imm_reported_by_destination.notna()].copy()
E = both.emi_reported_by_origin.astype(float); I = both.imm_reported_by_destination.astype(float)
both["abs_diff_I_minus_E"] = I - E
both["rel_diff_to_E"] = (I - E) / E
both["rel_diff_to_I"] = (I - E) / I
both["ratio_E_over_I"] = E / I
both["log_ratio_ln_I_over_E"] = np.log(I / E)
both["sym_rel_diff_pct"] = 200 * (I - E) / (I + E)
both["asym_share_abs_over_sum"] = (I - E).abs() / (I + E)
both.replace([np.inf, -np.inf], np.nan, inplace=True)
cols = ["year","origin","destination","emi_reported_by_origin","imm_reported_by_destination",
        "abs_diff_I_minus_E","rel_diff_to_E","rel_diff_to_I","ratio_E_over_I","log_ratio_ln_I_over_E",
        "sym_rel_diff_pct","asym_share_abs_over_sum"]
both[cols].round(6).to_csv(f"{OUT}/reference_pair_metrics_2016.csv", index=False)

# ---- correction factors: r_j (immigration reported by receiving j), s_i (emigration reported by sending i)
est = both[(both.emi_reported_by_origin > 0) & (both.imm_reported_by_destination > 0)]
recv = sorted(est.destination.unique()); send = sorted(est.origin.unique())
rpar = [c for c in recv if c != REF]; spar = [c for c in send if c != REF]
ridx = {c: k for k, c in enumerate(rpar)}; sidx = {c: len(rpar) + k for k, c in enumerate(spar)}
n = len(rpar) + len(spar)

def solve(log=False, weighted=False):
    A, b, w = [], [], []
    for _, row in est.iterrows():
        i, j = row.origin, row.destination
        Ii, Ei = float(row.imm_reported_by_destination), float(row.emi_reported_by_origin)
        a = np.zeros(n); rhs = 0.0
        if log:
            # ln r_j - ln s_i = ln E_ij - ln I_ij
            rhs = np.log(Ei) - np.log(Ii)
            if j != REF: a[ridx[j]] += 1.0
            if i != REF: a[sidx[i]] -= 1.0
        else:
            # r_j * I_ij - s_i * E_ij = 0, with r_REF = s_REF = 1 moved to the right-hand side
            if j != REF: a[ridx[j]] += Ii
            else: rhs -= Ii
            if i != REF: a[sidx[i]] -= Ei
            else: rhs += Ei
        A.append(a); b.append(rhs)
        # inverse approximate variance of ln(E/I) under Poisson counts: 1/(1/I + 1/E)
        w.append(1.0 / (1.0 / Ii + 1.0 / Ei) if weighted else 1.0)
    A = np.array(A); b = np.array(b); sw = np.sqrt(np.array(w))
    A = A * sw[:, None]; b = b * sw
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    if log: x = np.exp(x)
    r = {c: (1.0 if c == REF else x[ridx[c]]) for c in recv}
    s = {c: (1.0 if c == REF else x[sidx[c]]) for c in send}
    return r, s

res = []
harm = []
for name, log, wt in [("abs_least_squares", False, False), ("log_least_squares", True, False), ("weighted_log_least_squares", True, True)]:
    r, s = solve(log, wt)
    for _, row in y.iterrows():
        Ii, Ei = row.imm_reported_by_destination, row.emi_reported_by_origin
        ai = r.get(row.destination) if pd.notna(Ii) else None
        ae = s.get(row.origin) if pd.notna(Ei) else None
        vals = [v for v in [(ai * Ii) if ai is not None else None, (ae * Ei) if ae is not None else None] if v is not None]
        if vals:
            harm.append({"method": name, "year": YEAR, "origin": row.origin, "destination": row.destination,
                         "adj_imm": round(ai * Ii, 3) if ai is not None else None,
                         "adj_emi": round(ae * Ei, 3) if ae is not None else None,
                         "harmonised_flow": round(sum(vals) / len(vals), 3)})
    for c in sorted(set(recv) | set(send)):
        res.append({"method": name, "year": YEAR, "benchmark": REF, "country": c,
                    "imm_factor_r": round(r[c], 6) if c in r else None,
                    "emi_factor_s": round(s[c], 6) if c in s else None})
    # objective before/after
    pre = sum((row.imm_reported_by_destination - row.emi_reported_by_origin) ** 2 for _, row in est.iterrows())
    post = sum((r[row.destination]*row.imm_reported_by_destination - s[row.origin]*row.emi_reported_by_origin) ** 2 for _, row in est.iterrows())
    print(name, "pairs", len(est), "SSE raw", round(pre), "SSE adjusted", round(post))
pd.DataFrame(res).to_csv(f"{OUT}/reference_correction_factors_2016.csv", index=False)
pd.DataFrame(harm).to_csv(f"{OUT}/reference_harmonised_flows_2016.csv", index=False)
print(pd.DataFrame(res).pivot(index="country", columns="method", values=["imm_factor_r","emi_factor_s"]).round(3).to_string())
print("pairs used:", len(est), "receivers", recv, "senders", send)
