"""The ``pangrams`` dataset that ``textstats`` registers for any app."""


def pangrams(**options) -> list[str]:
    return ["The quick brown fox jumps over the lazy dog.", "敏捷的棕色狐狸跳过了懒狗。"]
