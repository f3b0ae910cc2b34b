from reports.builder import ReportBuilder


class WeeklyReportBuilder(ReportBuilder):
    title = "Weekly"


def weekly(days):
    builder = WeeklyReportBuilder()
    for day, hours in days.items():
        builder.add(day, f"{hours}h")
    return builder.render()
