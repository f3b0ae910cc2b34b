import reports
from reports.weekly import weekly

print(reports.ReportBuilder().add("builds", 12).add("failures", 1).render())
print(weekly({"mon": 7, "tue": 8}))
