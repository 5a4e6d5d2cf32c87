"""Wallet share by the Wallet Allocation Rule: a customer who ranks the maintenance providers
they use gives the provider at rank ``r`` of ``n`` the share ``(1 − r / (n + 1)) × 2 / n``
(the shares of ranks 1 … n add up to 1). Tied providers share the positions they hold."""

from __future__ import annotations

from collections.abc import Mapping


def war_share(rank: float, n: int) -> float:
    """The Wallet Allocation Rule share of rank ``rank`` (1 = preferred) among ``n`` providers."""
    if n < 1 or not 1 <= rank <= n:
        raise ValueError("rank must be between 1 and the number of providers")
    return (1 - rank / (n + 1)) * 2 / n


def war_shares(ranks: Mapping[str, int]) -> dict[str, float]:
    """Each provider's share from the ranks a customer gave (ties: the mean of the positions
    the tied providers take, so the shares still add up to 1)."""
    n = len(ranks)
    ordered = sorted(ranks.items(), key=lambda item: item[1])
    out: dict[str, float] = {}
    position = 1
    i = 0
    while i < n:
        tied = [p for p, r in ordered if r == ordered[i][1]]
        mean_position = position + (len(tied) - 1) / 2
        for provider in tied:
            out[provider] = war_share(mean_position, n)
        position += len(tied)
        i += len(tied)
    return out


def observed_share(units_maintained: int, units_owned: int) -> float | None:
    """Units we maintain ÷ units the customer owns (None when the contract does not say)."""
    if units_owned <= 0:
        return None
    return min(1.0, units_maintained / units_owned)
