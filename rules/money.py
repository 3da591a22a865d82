"""Money as a Chinese sales team writes it."""


def yuan(amount: int) -> str:
    """30万元, 1.2亿元, 8,000元."""
    if amount >= 100_000_000:
        return f"{amount / 100_000_000:g}亿元"
    if amount >= 10_000:
        return f"{amount / 10_000:g}万元"
    return f"{amount:,}元"
