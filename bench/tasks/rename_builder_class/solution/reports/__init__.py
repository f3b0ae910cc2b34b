from reports.builder import SummaryBuilder

__all__ = ["SummaryBuilder"]
