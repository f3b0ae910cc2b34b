from functools import cmp_to_key

from release.versions import compare_versions


def newest_first(versions):
    return sorted(versions, key=cmp_to_key(compare_versions), reverse=True)


if __name__ == "__main__":
    print(newest_first(["1.0.0", "1.0.0-rc1", "0.9.12"]))
