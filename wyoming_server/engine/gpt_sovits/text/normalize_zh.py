"""Chinese text normalization: numbers, dates, times, money, units and symbols into Hanzi.

Two passes, because Chinese text may carry English words that the English frontend reads:

* `verbalize_numbers` runs over the whole text and turns every numeric expression into Chinese
  characters (PaddleSpeech `zh_normalization` semantics, as upstream GPT-SoVITS uses, with the
  differences marked "Upstream:" below). Latin words are left alone, so "A4纸" becomes "A四纸" and
  "iPhone 15" becomes "iPhone 十五", which is how a Mandarin speaker reads them.
* `clean_hanzi` runs on each Chinese run: symbols to words, punctuation onto `, . ! ? … -`
  (upstream's `replace_punctuation`), and deletion of everything else.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from .pinyin_source import has_char_reading
from .zh_codes import replace_codes
from .zh_numbers import read_cardinal, read_decimal_digits, read_digits, read_number
from .zh_scores import replace_scores

_LOGGER = logging.getLogger(__name__)

ZH_PUNCTUATION: Final = "!?…,.-"

_FULLWIDTH_TO_ASCII: Final = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_NUM: Final = r"\d+(?:\.\d+)?"
# A minus sign, not a hyphen after a word or number.
_SIGN: Final = r"((?<![A-Za-z0-9.])-)"

# Measure words after which 2 is read 两 (upstream's quantifier list, trimmed to the common ones).
_MEASURE_WORDS: Final = (
    "个|位|只|条|张|本|件|次|名|辆|台|部|把|块|支|双|对|份|杯|瓶|碗|盒|包|袋|箱|架|艘|座|栋|间|家|户|层|"
    "页|篇|首|句|道|题|节|课|门|项|种|样|类|套|批|群|头|匹|棵|朵|颗|粒|片|根|盏|封|幅|笔|口|行|排|站|"
    "年|岁|天|周|小时|分钟|秒|点|刻|倍|元|块钱|角|毛|分|斤|两|公斤|千克|克|吨|米|千米|公里|里|厘米|毫米|"
    "升|毫升|百|千|万|亿"
)
_UNITS: Final = {
    "km/h": "千米每小时", "m/s": "米每秒", "kWh": "千瓦时", "mAh": "毫安时", "km²": "平方千米",
    "m²": "平方米", "m2": "平方米", "m³": "立方米", "m3": "立方米", "cm²": "平方厘米", "cm2": "平方厘米",
    "cm³": "立方厘米", "cm3": "立方厘米", "km": "千米", "kg": "千克", "cm": "厘米", "mm": "毫米",
    "ml": "毫升", "mL": "毫升", "mg": "毫克", "ms": "毫秒", "min": "分钟", "kW": "千瓦", "Hz": "赫兹",
    "dB": "分贝", "db": "分贝", "m": "米", "g": "克", "L": "升", "l": "升", "h": "小时", "s": "秒",
    "W": "瓦", "V": "伏", "t": "吨",
}
_CURRENCIES: Final = {"¥": "元", "￥": "元", "$": "美元", "€": "欧元", "£": "英镑"}
_SYMBOL_WORDS: Final = {"+": "加", "=": "等于", "×": "乘", "÷": "除以", "&": "和", "%": "百分号"}
_GREEK: Final = {
    "α": "阿尔法", "β": "贝塔", "γ": "伽马", "δ": "德尔塔", "Δ": "德尔塔", "ε": "艾普西隆",
    "θ": "西塔", "λ": "兰姆达", "μ": "缪", "π": "派", "σ": "西格玛", "Σ": "西格玛", "φ": "斐",
    "ω": "欧米伽", "Ω": "欧米伽",
}
_CIRCLED: Final = {chr(0x2460 + i): read_cardinal(str(i + 1)) for i in range(10)} | {"〇": "零"}
# upstream replace_punctuation: every Chinese/ASCII mark onto the six the model knows.
_PUNCTUATION_MAP: Final = {
    "：": ",", ":": ",", "；": ",", ";": ",", "，": ",", "、": ",", "·": ",", "/": ",",
    "。": ".", "！": "!", "？": "?", "\n": ".", "~": "…", "～": "…", "—": "-", "–": "-",
}
_DELETED_MARKS: Final = "《》【】〈〉「」『』〔〕()（）[]{}<>\"'“”‘’«»#@^_|\\*`"

_RE_THOUSANDS: Final = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d,]\d)", re.ASCII)  # also 1,299.99
_RE_DATE: Final = re.compile(
    r"(?<!\d)(\d{4}|\d{2}(?=年(?:0?[1-9]|1[0-2])月))年(?:(0?[1-9]|1[0-2])月)?(?:(0?[1-9]|[12]\d|3[01])([日号]))?",
    re.ASCII,
)
_RE_DATE_NUMERIC: Final = re.compile(
    r"(?<![\d.])(\d{4})([-/.])(0?[1-9]|1[0-2])\2(0?[1-9]|[12]\d|3[01])(?![\d.])", re.ASCII
)
_TIME: Final = r"([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?"
_RE_TIME_RANGE: Final = re.compile(rf"(?<![\d:]){_TIME}\s*[-~～至到]\s*{_TIME}(?![\d:])", re.ASCII)
_RE_TIME: Final = re.compile(rf"(?<![\d:]){_TIME}(?![\d:])", re.ASCII)
_RE_MOBILE: Final = re.compile(
    r"(?<![\d+])(\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)", re.ASCII
)
_RE_LANDLINE: Final = re.compile(r"(?<![\d-])(0\d{2,3})-(\d{7,8})(?![\d-])", re.ASCII)
_RE_SERVICE_NUMBER: Final = re.compile(r"(?<![\d-])([48]00)-?(\d{3})-?(\d{4})(?![\d-])", re.ASCII)
_RE_EQUATION: Final = re.compile(rf"-?{_NUM}(?:\s*[-+×÷*/]\s*-?{_NUM})+\s*=\s*-?{_NUM}", re.ASCII)
_RE_ARITHMETIC: Final = re.compile(r"(?<=\d)\s*([+×÷*])\s*(?=-?\d)", re.ASCII)
_RE_RANGE: Final = re.compile(rf"(?<![\d.:])({_NUM})\s*(?:[~～]\s*|-)(?=-?\d)", re.ASCII)
_RE_CURRENCY: Final = re.compile(rf"([¥￥$€£])\s*({_NUM})\s*(万亿|亿|万|千)?\s*(?:元|块)?", re.ASCII)
_RE_TEMPERATURE: Final = re.compile(
    rf"(?:{_SIGN}|(零下))?(?<![\d.])({_NUM})\s*(°C|℃|°F|℉|摄氏度|度)", re.ASCII
)
_RE_PERCENT: Final = re.compile(rf"{_SIGN}?(?<![\d.])({_NUM})\s*%", re.ASCII)
_RE_FRACTION: Final = re.compile(r"(?<![\d/.])(\d+)/(\d+)(?![\d/])", re.ASCII)
_UNIT_ALTERNATIVES: Final = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
_RE_UNIT: Final = re.compile(rf"({_NUM})\s*({_UNIT_ALTERNATIVES})(?![A-Za-z])", re.ASCII)
_RE_PER_UNIT: Final = re.compile(r"(\d\s*[\u4e00-\u9fff]{1,2})/(?=[\u4e00-\u9fff])")  # 3元/斤 -> 3元每斤
_RE_MORE_THAN: Final = re.compile(rf"(\d)\+(?={_MEASURE_WORDS})", re.ASCII)
_RE_NEGATIVE: Final = re.compile(r"(?<![A-Za-z0-9.])-(?=\d)", re.ASCII)
_RE_VERSION: Final = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?![\d.])", re.ASCII)
_RE_DECIMAL: Final = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])", re.ASCII)
_RE_TWO: Final = re.compile(rf"(?<![\d.第])2(?=(?:{_MEASURE_WORDS}))", re.ASCII)
_RE_CODE: Final = re.compile(r"(?<!\d)(?:0\d+|\d{17,})(?!\d)", re.ASCII)
_RE_YEAR: Final = re.compile(rf"(?<![\d.])(?:19|20)\d\d(?![\d.]|多|余|{_MEASURE_WORDS})", re.ASCII)
_RE_INTEGER: Final = re.compile(r"\d+", re.ASCII)
_RE_PUNCTUATION_RUN: Final = re.compile(r"([!?…,.\-])[!?…,.\-]+", re.ASCII)


def to_halfwidth(text: str) -> str:
    """Full-width ASCII forms (Ａ１，：％ ...) and the ideographic space to their ASCII forms."""
    return text.translate(_FULLWIDTH_TO_ASCII)


def _read_time(hour: str, minute: str, second: str | None) -> str:
    # Upstream reads 2:00 as 二点; Mandarin says 两点.
    text = ("两" if int(hour) == 2 else read_cardinal(hour)) + "点"
    if int(minute) == 30 and not (second and int(second)):
        text += "半"
    elif int(minute):
        text += ("零" if minute.startswith("0") else "") + read_cardinal(minute) + "分"
    if second and int(second):
        text += ("零" if second.startswith("0") else "") + read_cardinal(second) + "秒"
    return text


def _replace_date(match: re.Match[str]) -> str:
    year, month, day, day_mark = match.groups()
    text = read_digits(year) + "年"
    if month:
        text += read_cardinal(month) + "月"
    if day:
        text += read_cardinal(day) + day_mark
    return text


def _replace_numeric_date(match: re.Match[str]) -> str:
    year, _, month, day = match.groups()
    return f"{read_digits(year)}年{read_cardinal(month)}月{read_cardinal(day)}日"


def _replace_time_range(match: re.Match[str]) -> str:
    groups = match.groups()
    return _read_time(*groups[:3]) + "到" + _read_time(*groups[3:])


def _replace_mobile(match: re.Match[str]) -> str:
    country, *parts = match.groups()
    prefix = read_digits(re.sub(r"\D", "", country), one_as_yao=True) + "," if country else ""
    return prefix + read_digits("".join(parts), one_as_yao=True)


def _replace_digit_groups(match: re.Match[str]) -> str:
    # Pause between the groups the way they were written (upstream joins them with "，").
    return ",".join(read_digits(group, one_as_yao=True) for group in match.groups())


def _replace_equation(match: re.Match[str]) -> str:
    text = re.sub(r"(?<=\d)\s*-\s*(?=-?\d)", "减", match.group(0))
    text = re.sub(r"\s*/\s*", "除以", text)
    return re.sub(r"\s*=\s*", "等于", text)


def _replace_currency(match: re.Match[str]) -> str:
    symbol, amount, scale = match.groups()
    unit = _CURRENCIES[symbol]
    integer, _, fraction = amount.partition(".")
    if unit == "元" and not scale and fraction and len(fraction) <= 2:
        # ¥12.50 -> 十二元五角, ¥3.05 -> 三元零五分: how prices are read aloud.
        fraction = fraction.ljust(2, "0")
        text = read_cardinal(integer) + "元" if integer.strip("0") else ""
        if fraction[0] != "0":
            text += read_digits(fraction[0]) + "角"
        if fraction[1] != "0":
            text += ("零" if text and fraction[0] == "0" else "") + read_digits(fraction[1]) + "分"
        return text or "零元"
    return read_number(amount) + (scale or "") + unit


def _replace_temperature(match: re.Match[str]) -> str:
    minus, below_zero, value, unit = match.groups()
    prefix = "零下" if minus or below_zero else ""
    if unit in ("°F", "℉"):
        return f"华氏{prefix}{read_number(value)}度"
    return prefix + read_number(value) + ("摄氏度" if unit == "摄氏度" else "度")


def _replace_percent(match: re.Match[str]) -> str:
    sign, value = match.groups()
    return ("负" if sign else "") + "百分之" + read_number(value)


def _replace_version(match: re.Match[str]) -> str:
    return "点".join(read_digits(part) for part in match.group(0).split("."))


def _replace_decimal(match: re.Match[str]) -> str:
    integer, fraction = match.groups()
    return (read_cardinal(integer) if integer else "零") + "点" + read_decimal_digits(fraction)


def verbalize_numbers(text: str) -> str:
    """Every numeric expression in `text` -> Chinese characters; other text is kept as it is."""
    text = to_halfwidth(text)
    if not any(ch.isdigit() for ch in text):
        return text
    text = _RE_THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    text = replace_scores(text)  # before the times: 2:0 is 二比零, not a time
    text = _RE_DATE.sub(_replace_date, text)
    text = _RE_DATE_NUMERIC.sub(_replace_numeric_date, text)
    text = _RE_TIME_RANGE.sub(_replace_time_range, text)
    text = _RE_TIME.sub(lambda m: _read_time(*m.groups()), text)
    text = _RE_MOBILE.sub(_replace_mobile, text)
    text = _RE_LANDLINE.sub(_replace_digit_groups, text)
    text = _RE_SERVICE_NUMBER.sub(_replace_digit_groups, text)
    text = replace_codes(text)  # 打120, 验证码6381, 301房间: digit by digit
    text = _RE_EQUATION.sub(_replace_equation, text)
    text = _RE_ARITHMETIC.sub(lambda m: _SYMBOL_WORDS.get(m.group(1), "乘"), text)
    # Upstream reads "3-5个" as 三减五个 (its arithmetic rule runs first); a hyphen between two numbers
    # outside an equation is a range.
    text = _RE_RANGE.sub(r"\1到", text)
    text = _RE_CURRENCY.sub(_replace_currency, text)
    text = _RE_TEMPERATURE.sub(_replace_temperature, text)
    text = _RE_PERCENT.sub(_replace_percent, text)
    text = _RE_FRACTION.sub(lambda m: f"{read_cardinal(m.group(2))}分之{read_cardinal(m.group(1))}", text)
    text = _RE_UNIT.sub(lambda m: m.group(1) + _UNITS[m.group(2)], text)
    text = _RE_PER_UNIT.sub(r"\1每", text)
    text = _RE_MORE_THAN.sub(r"\1多", text)
    text = _RE_NEGATIVE.sub("负", text)
    text = _RE_VERSION.sub(_replace_version, text)
    text = _RE_DECIMAL.sub(_replace_decimal, text)
    text = _RE_TWO.sub("两", text)
    # Upstream reads every integer of 3+ digits without a measure word digit by digit ("150" -> 幺五零);
    # we read quantities as cardinals, and digit by digit only codes (leading 0, or 17+ digits) and
    # years without 年 (1900-2099 not followed by a measure word: "2024奥运会").
    text = _RE_CODE.sub(lambda m: read_digits(m.group(0), one_as_yao=True), text)
    text = _RE_YEAR.sub(lambda m: read_digits(m.group(0)), text)
    return _RE_INTEGER.sub(lambda m: read_cardinal(m.group(0)), text)


def has_reading(char: str) -> bool:
    """True for a Hanzi that pypinyin can read (the CJK blocks upstream keeps, U+4E00-U+9FA5, and more)."""
    return ("\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff") and has_char_reading(ord(char))


def clean_hanzi(text: str) -> str:
    """A Chinese run -> Hanzi and `, . ! ? … -` only (upstream `replace_punctuation`), runs collapsed."""
    text = to_halfwidth(text).replace("嗯", "恩").replace("呣", "母")
    text = text.replace("……", "…").replace("...", "…").replace("——", "—")
    out: list[str] = []
    dropped: list[str] = []
    for char in text:
        mapped = (
            _CIRCLED.get(char) or _GREEK.get(char) or _SYMBOL_WORDS.get(char) or _PUNCTUATION_MAP.get(char)
        )
        if mapped is not None:
            out.append(mapped)
        elif has_reading(char) or char in ZH_PUNCTUATION:
            out.append(char)
        elif not (char.isspace() or char in _DELETED_MARKS):
            dropped.append(char)
    if dropped:
        _LOGGER.debug("dropped characters without a Chinese reading: %r", "".join(dropped))
    return _RE_PUNCTUATION_RUN.sub(r"\1", "".join(out))


def normalize_zh(text: str) -> str:
    """Chinese text (no English words) -> Hanzi and the six punctuation marks, as the G2P expects."""
    return clean_hanzi(verbalize_numbers(text))
