"""Correction factors by weighted least squares on log ratios, and harmonised flows (mirror-statistics.md 4.4).

    y_ij = ln(E_ij / I_ij) = ln r_j - ln s_i + e_ij,    w_ij = 1 / (1/I_ij + 1/E_ij)
    minimise sum w_ij (ln r_j - ln s_i - y_ij)^2   with  ln r_ref = ln s_ref = 0
    harmonised M_ij = mean of the available r_j I_ij and s_i E_ij

One weighted ``lstsq``, no iteration. Identifiable when every country is linked to the benchmark through
doubly reported pairs; otherwise ``Disconnected`` names the countries cut off. The naive absolute least
squares, min sum (r_j I_ij - s_i E_ij)^2, is scale-degenerate (note 4.3) and deliberately not offered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exchange.stats.mirror import Pair, duration_coefficient


class Disconnected(ValueError):
    def __init__(self, countries: list[str], benchmark: str) -> None:
        super().__init__(f"Correction factors cannot be estimated for {', '.join(countries)}: no chain of doubly "
                         f"reported pairs links them to the benchmark {benchmark}.")
        self.countries = countries


@dataclass
class Factors:
    benchmark: str
    weighted: bool
    duration_adjusted: bool
    immigration: dict[str, float]  # r_j
    emigration: dict[str, float]  # s_i
    immigration_se: dict[str, float]  # standard error of ln r_j
    emigration_se: dict[str, float]
    pairs_used: int = 0
    _fit: tuple[list[Pair], np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def residuals(self) -> list[dict[str, Any]]:
        """Per pair used: y = ln(E/I), the fitted ln r_j - ln s_i, the residual and the weight."""
        if self._fit is None:
            return []
        pairs, target, fitted, weights = self._fit
        return [{"origin": p.origin, "destination": p.destination, "period": p.period,
                 "log_ratio_e_over_i": float(target[k]), "fitted": float(fitted[k]),
                 "residual": float(target[k] - fitted[k]), "weight": float(weights[k])} for k, p in enumerate(pairs)]


def _sides(pair: Pair, duration_adjust: bool) -> tuple[float | None, float | None]:
    e, i = pair.emigration, pair.immigration
    if duration_adjust:
        ce = duration_coefficient(pair.origin_dur_crit)
        ci = duration_coefficient(pair.destination_dur_crit)
        e = e * ce if e is not None and ce is not None else None  # no known criterion: left out
        i = i * ci if i is not None and ci is not None else None
    return e, i


def estimate(pairs: Iterable[Pair], benchmark: str = "SWE", weighted: bool = True,
             duration_adjust: bool = False) -> Factors:
    usable, e_values, i_values = [], [], []
    for pair in pairs:
        e, i = _sides(pair, duration_adjust)
        if e is not None and i is not None and e > 0 and i > 0:
            usable.append(pair)
            e_values.append(e)
            i_values.append(i)
    receivers = sorted({p.destination for p in usable})
    senders = sorted({p.origin for p in usable})
    if benchmark not in receivers and benchmark not in senders:
        raise Disconnected(sorted(set(receivers) | set(senders)), benchmark)
    r_index = {c: k for k, c in enumerate(c for c in receivers if c != benchmark)}
    s_index = {c: len(r_index) + k for k, c in enumerate(c for c in senders if c != benchmark)}
    n, rows = len(r_index) + len(s_index), np.arange(len(usable))
    design = np.zeros((len(usable), n))
    receiver_column = np.array([r_index.get(p.destination, -1) for p in usable], dtype=int)
    sender_column = np.array([s_index.get(p.origin, -1) for p in usable], dtype=int)
    design[rows[receiver_column >= 0], receiver_column[receiver_column >= 0]] = 1.0
    design[rows[sender_column >= 0], sender_column[sender_column >= 0]] = -1.0
    e_array, i_array = np.array(e_values), np.array(i_values)
    target = np.log(e_array) - np.log(i_array)
    weights = 1.0 / (1.0 / i_array + 1.0 / e_array) if weighted else np.ones(len(usable))
    root = np.sqrt(weights)
    solution, _residual, rank, _singular = np.linalg.lstsq(design * root[:, None], target * root, rcond=None)
    if rank < n:  # some factor is not identified: a part of the pair graph does not reach the benchmark
        _check_connected(usable, receivers, senders, benchmark)
    fitted = design @ solution
    residuals = target - fitted
    dof = max(len(usable) - n, 1)
    sigma2 = float(np.sum(weights * residuals**2) / dof)
    covariance = sigma2 * np.linalg.pinv((design * weights[:, None]).T @ design)
    se = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    r = {c: 1.0 if c == benchmark else float(np.exp(solution[r_index[c]])) for c in receivers}
    s = {c: 1.0 if c == benchmark else float(np.exp(solution[s_index[c]])) for c in senders}
    r_se = {c: 0.0 if c == benchmark else float(se[r_index[c]]) for c in receivers}
    s_se = {c: 0.0 if c == benchmark else float(se[s_index[c]]) for c in senders}
    return Factors(benchmark, weighted, duration_adjust, r, s, r_se, s_se, len(usable),
                   (usable, target, fitted, weights))


def _check_connected(usable: list[Pair], receivers: list[str], senders: list[str], benchmark: str) -> None:
    """Every r_j and s_i must reach a benchmark node through pairs (a bipartite graph of r and s nodes)."""
    links: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for pair in usable:
        a, b = ("r", pair.destination), ("s", pair.origin)
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)
    seen = {node for node in (("r", benchmark), ("s", benchmark)) if node in links}
    todo = list(seen)
    while todo:
        for other in links[todo.pop()]:
            if other not in seen:
                seen.add(other)
                todo.append(other)
    cut = sorted({c for c in receivers if ("r", c) not in seen} | {c for c in senders if ("s", c) not in seen})
    if not seen or cut:
        raise Disconnected(cut or sorted(set(receivers) | set(senders)), benchmark)


def harmonised(pairs: Iterable[Pair], factors: Factors) -> list[dict[str, Any]]:
    """Harmonised flow per pair: the mean of the adjusted sides that exist (one side alone if only one)."""
    out = []
    for pair in pairs:
        e, i = _sides(pair, factors.duration_adjusted)
        r = factors.immigration.get(pair.destination) if i is not None else None
        s = factors.emigration.get(pair.origin) if e is not None else None
        adj_i = r * i if r is not None and i is not None else None
        adj_e = s * e if s is not None and e is not None else None
        values = [v for v in (adj_i, adj_e) if v is not None]
        if values:
            out.append({"origin": pair.origin, "destination": pair.destination, "period": pair.period,
                        "adj_imm": adj_i, "adj_emi": adj_e, "harmonised_flow": sum(values) / len(values),
                        "method": "WLS_LOG" if factors.weighted else "LOG_LS",
                        "benchmark": factors.benchmark, "obs_status": "E"})
    return out
