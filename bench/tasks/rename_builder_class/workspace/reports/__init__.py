from reports.builder import ReportBuilder

__all__ = ["ReportBuilder"]
