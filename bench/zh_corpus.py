"""An offline Chinese benchmark corpus for the ``web_zh`` filters (used by bench/zh_throughput.py).

Sentences come from Chinese text already on the machine: the test fixtures' prose, Vim's Chinese tutor
and its zh_CN message catalogue (when installed). Documents:
- prose pages: 6-40 sampled sentences in paragraphs, some with navigation / footer lines around them;
- spam: keyword lists drawn from jieba's dictionary (its most frequent words), repeated promotional lines,
  very short pages, and pages mixed with English boilerplate.
Deterministic for a given seed and installation.
"""

from __future__ import annotations

import gettext
import glob
import random
import re
import sys
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.data_prep import zh_texts  # noqa: E402

_SENTENCE_END = re.compile(r"(?<=[。！？])")
_NAV = ["首页", "新闻", "关于我们", "联系我们", "登录", "注册", "帮助中心", "网站地图"]
_FOOTER = ["版权所有 © 2023 示例网络科技有限公司", "京ICP备12345678号", "免责声明 | 隐私政策 | 联系我们",
           "本站部分内容来源于网络，如有侵权请联系删除。", "上一篇：暂无  下一篇：暂无"]
_PROMO = ["全场八折，限时抢购！", "点击这里领取优惠券", "加微信了解更多详情", "今日特价，错过再等一年！"]


def _chinese(text: str) -> bool:
    return sum("\u4e00" <= ch <= "\u9fff" for ch in text) >= 6


def sentences() -> list[str]:
    texts = list(zh_texts.PROSE) + [zh_texts.ZH_WITH_ENGLISH]
    for path in glob.glob("/usr/share/vim/vim*/tutor/tutor.zh_cn.utf-8"):
        texts.append(Path(path).read_text(encoding="utf-8", errors="replace"))
    for path in glob.glob("/usr/share/vim/vim*/lang/zh_CN.UTF-8/LC_MESSAGES/vim.mo"):
        with open(path, "rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog  # noqa: SLF001  (the messages themselves)
        texts.extend(str(v) for v in catalog.values() if isinstance(v, str))
    out = []
    for text in texts:
        for piece in _SENTENCE_END.split(text.replace("\n", "")):
            piece = piece.strip()
            if _chinese(piece) and 8 <= len(piece) <= 200:
                out.append(piece)
    return sorted(set(out))


def frequent_words(limit: int = 3000) -> list[str]:
    dictionary = resources.files("jieba").joinpath("dict.txt").read_text(encoding="utf-8").splitlines()
    rows = [line.split() for line in dictionary]
    rows = [r for r in rows if len(r) >= 2 and len(r[0]) >= 2]
    rows.sort(key=lambda r: -int(r[1]))
    return [r[0] for r in rows[:limit]]


def _prose(rng: random.Random, pool: list[str]) -> str:
    paragraphs = []
    for _ in range(rng.randint(2, 8)):
        paragraphs.append("".join(rng.choice(pool) for _ in range(rng.randint(2, 6))))
    body = "\n".join(paragraphs)
    if rng.random() < 0.4:
        body = " ".join(rng.sample(_NAV, 5)) + "\n" + body + "\n" + "\n".join(rng.sample(_FOOTER, 2))
    return body


def _spam(rng: random.Random, pool: list[str], words: list[str]) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return " ".join(rng.choice(words[:200]) for _ in range(rng.randint(80, 300)))
    if kind == 1:
        return "\n".join([rng.choice(_PROMO)] * rng.randint(10, 40) + [rng.choice(pool)])
    if kind == 2:
        return rng.choice(pool)
    return "Home | About | Contact\n" + rng.choice(pool) + "\nCopyright 2023. All rights reserved. Privacy Policy"


def build_corpus(docs: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pool, words = sentences(), frequent_words()
    return [_prose(rng, pool) if rng.random() < 0.75 else _spam(rng, pool, words) for _ in range(docs)]


if __name__ == "__main__":
    corpus = build_corpus(2000)
    print(len(sentences()), "sentences;", len(corpus), "docs;", sum(map(len, corpus)), "chars")
    print(corpus[0][:300])
