from reports.builder import SummaryBuilder


class WeeklyReportBuilder(SummaryBuilder):
    title = "Weekly"


def weekly(days):
    builder = WeeklyReportBuilder()
    for day, hours in days.items():
        builder.add(day, f"{hours}h")
    return builder.render()
