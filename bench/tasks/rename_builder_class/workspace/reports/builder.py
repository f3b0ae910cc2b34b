class ReportBuilder:
    """Collects (label, value) rows and renders them as aligned text."""

    title = "Report"

    def __init__(self):
        self.rows = []

    def add(self, label, value):
        self.rows.append((label, value))
        return self

    def render(self):
        width = max((len(label) for label, _ in self.rows), default=0)
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{label.ljust(width)}  {value}" for label, value in self.rows]
        return "\n".join(lines)
