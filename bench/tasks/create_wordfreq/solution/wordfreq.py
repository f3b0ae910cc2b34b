import re
import sys
from collections import Counter

with open(sys.argv[1]) as handle:
    counts = Counter(re.findall(r"[a-z]+", handle.read().lower()))
for word, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]:
    print(word, count)
