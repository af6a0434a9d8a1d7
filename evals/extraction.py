"""`python -m evals.extraction`: which reader turns a web page into article text better,
trafilatura (+ htmldate) or our block reader (BeautifulSoup + index/reading/boilerplate.py).

Two labelled sets:

- **saved pages**: every MultiHop pack article (title, outlet, date, author and body known
  from its header) laid out as a news page in one of three layouts that real sites use:
  semantic tags with meta tags; nested divs with the date, byline and outlet only in
  visible text; JSON-LD with ads, "Read more" links, a newsletter box and reader comments
  between and after the paragraphs. The furniture is what the article is not.
- **the seeds**: the five scraped articles, whose body paragraphs are labelled in
  `evals/gold/seed_bodies.json`; our reader reads the text file, trafilatura the same lines
  as an HTML page of paragraphs.

Body text is scored by words (precision: of the words a reader kept, the share that are
article; recall: of the article's words, the share kept); title, outlet, date and author
by exact match. Prints a Markdown table; `--out FILE` writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from index.reading.loaders import load_article
from index.types import Article

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT.parent / "shared" / "benchmarks" / "multihop_rag_evidence_only" / "docs"
SEED_BODIES = Path(__file__).parent / "gold" / "seed_bodies.json"
READERS = ("trafilatura", "blocks")


@dataclass
class Labelled:
    name: str
    html: str
    body: str
    title: str = ""
    outlet: str = ""
    day: str = ""
    author: str = ""
    text_file: Path | None = None  # read as text by the block reader (the seeds)


@dataclass
class Score:
    kept: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    words_kept: int = 0
    words_gold: int = 0
    words_right: int = 0
    seconds: float = 0.0
    pages: int = 0

    def field(self, name: str, ok: bool | None) -> None:
        if ok is not None:
            self.kept[name] += 1
            self.right[name] += ok

    def row(self) -> dict[str, float]:
        p = self.words_right / self.words_kept if self.words_kept else 0.0
        r = self.words_right / self.words_gold if self.words_gold else 0.0
        out = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
        out |= {f"{k}_right": self.right[k] / self.kept[k] for k in self.kept}
        out["ms_per_page"] = 1000 * self.seconds / max(1, self.pages)
        return {k: round(v, 3) for k, v in out.items()}


def words(text: str) -> Counter[str]:
    return Counter("".join(c if c.isalnum() else " " for c in text.lower()).split())


# --- the saved pages ----------------------------------------------------------------------
def pack_pages(folder: Path = PACK) -> list[Labelled]:
    docs = sorted(folder.glob("*.txt"))
    titles = [_header(p.read_text(encoding="utf-8"))[0].get("title", "") for p in docs]
    rng = random.Random(7)
    out = []
    for n, path in enumerate(docs):
        head, body = _header(path.read_text(encoding="utf-8"))
        meta = {k: html.unescape(v) for k, v in head.items()}
        author = "" if meta.get("author", "unknown") == "unknown" else meta["author"]
        paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
        related = rng.sample([t for t in titles if t and t != head.get("title")], 4)
        layout = LAYOUTS[n % len(LAYOUTS)]
        page = layout(meta.get("title", ""), meta.get("source", ""), meta.get("published", ""),
                      author, paragraphs, [html.unescape(t) for t in related])  # fmt: skip
        out.append(
            Labelled(
                path.stem,
                page,
                "\n".join(paragraphs),
                meta.get("title", ""),
                meta.get("source", ""),
                meta.get("published", "")[:10],
                author,
            )  # fmt: skip
        )
    return out


def _header(text: str) -> tuple[dict[str, str], str]:
    head, _, body = text.partition("\n\n")
    fields = {}
    for line in head.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return fields, body


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _human(iso: str) -> str:
    try:
        from datetime import datetime

        return datetime.fromisoformat(iso).strftime("%B %-d, %Y %H:%M")
    except ValueError:
        return iso


def semantic(t: str, outlet: str, published: str, author: str, paras: list[str],
             related: list[str]) -> str:  # fmt: skip
    links = "".join(f"<li><a href='/r{i}'>{_e(r)}</a></li>" for i, r in enumerate(related))
    byline = f"<p class='byline'>By {_e(author)}</p>" if author else ""
    return f"""<!doctype html><html><head><title>{_e(t)} | {_e(outlet)}</title>
<meta property="og:title" content="{_e(t)}"><meta property="og:site_name" content="{_e(outlet)}">
<meta property="article:published_time" content="{_e(published)}">
{f'<meta name="author" content="{_e(author)}">' if author else ""}</head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/tech">Tech</a>
<a href="/sport">Sport</a> <a href="/login">Sign in</a> <a href="/subscribe">Subscribe</a>
</nav></header>
<div class="cookie">We use cookies and similar technologies to give you a better experience. By
continuing to browse you agree to our use of cookies. <button>Accept</button></div>
<main><article><h1>{_e(t)}</h1>{byline}<time datetime="{_e(published)}">{_human(published)}</time>
<div class="share">Share on Facebook · Share on X · Copy link</div>
{"".join(f"<p>{_e(p)}</p>" for p in paras)}
<div class="tags">Topics: News · World · Business</div></article>
<aside><h2>Related stories</h2><ul>{links}</ul></aside></main>
<footer><p>© 2023 {_e(outlet)}. All rights reserved.</p><p>Privacy policy · Terms of use ·
Cookie settings · Contact us</p></footer></body></html>"""


def div_soup(t: str, outlet: str, published: str, author: str, paras: list[str],
             related: list[str]) -> str:  # fmt: skip
    links = "<br>".join(f"<a href='/s{i}'>{_e(r)}</a>" for i, r in enumerate(related))
    byline = f"<div class='au'>By {_e(author)}</div>" if author else ""
    return f"""<html><head><title>{_e(t)}</title></head><body>
<div id="top"><div class="menu"><a href="/">Front page</a> | <a href="/l">Latest</a> |
<a href="/m">Markets</a> | <a href="/o">Opinion</a> | <a href="/v">Video</a></div></div>
<div id="wrap"><div class="left"><div class="hd"><div class="headline">{_e(t)}</div>
<div class="meta">Published: {_human(published)}</div>{byline}</div>
<div class="txt">{"".join(f"<div class='para'>{_e(p)}</div>" for p in paras)}</div>
<div class="more"><b>More from {_e(outlet)}</b><br>{links}</div></div>
<div class="right"><div class="box">Newsletter: get the day's top stories in your inbox every
morning. <a href="/nl">Sign up</a></div><div class="ad">Advertisement</div></div></div>
<div class="ft">Copyright © 2023 {_e(outlet)}. All rights reserved. | About us | Careers |
Advertise with us | Privacy</div></body></html>"""


def ld_with_ads(t: str, outlet: str, published: str, author: str, paras: list[str],
                related: list[str]) -> str:  # fmt: skip
    ld: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": t,
        "datePublished": published,
        "publisher": {"@type": "Organization", "name": outlet},
    }
    if author:
        ld["author"] = {"@type": "Person", "name": author}
    body = []
    for i, p in enumerate(paras):
        body.append(f"<p>{_e(p)}</p>")
        if i == 0:
            body.append(f"<p class='readmore'>Read more: <a href='/x'>{_e(related[0])}</a></p>")
        if i == 1:
            body.append("<div class='newsletter'><h4>Get our morning briefing</h4><p>Sign up "
                        "for the newsletter and never miss a story.</p><input><button>"
                        "Subscribe</button></div>")  # fmt: skip
        body.append("<div class='ad'>Advertisement</div>")
    more = "".join(f"<a href='/y'>{_e(r)}</a>" for r in related[1:])
    comments = (
        "<section class='comments'><h3>Comments (2)</h3>"
        "<div class='comment'><b>reader77</b> I have followed this for a while and I think the "
        "coverage here has been fair, but the numbers still look too good to be true.</div>"
        "<div class='comment'><b>jk_smith</b> Thanks for the report, it would be great to see a "
        "follow-up piece when more details come out next month.</div></section>"
    )
    return f"""<!doctype html><html><head><title>{_e(t)} - {_e(outlet)}</title>
<script type="application/ld+json">{json.dumps(ld)}</script></head><body>
<nav class="top">Home · Latest · Popular · Newsletters · Log in</nav>
<h1 class="entry-title">{_e(t)}</h1>
<div class="entry-content">{"".join(body)}</div>
<div class="related"><h3>You may also like</h3>{more}</div>
{comments}<footer>{_e(outlet)} · Terms · Privacy · Cookie preferences</footer></body></html>"""


LAYOUTS: list[Callable[..., str]] = [semantic, div_soup, ld_with_ads]


# --- the seeds -----------------------------------------------------------------------------
def seed_pages(seeds: Path = ROOT / "seeds") -> list[Labelled]:
    labels = json.loads(SEED_BODIES.read_text(encoding="utf-8"))
    out = []
    for name, body_lines in labels.items():
        path = seeds / name
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        body = [ln for ln in lines if any(ln.startswith(b) for b in body_lines)]
        assert len(body) == len(body_lines), f"{name}: a labelled line is missing"
        page = "<html><body>" + "".join(f"<p>{_e(ln)}</p>" for ln in lines) + "</body></html>"
        out.append(Labelled(name, page, "\n".join(body), text_file=path))
    return out


# --- scoring -----------------------------------------------------------------------------------
def read(page: Labelled, reader: str, folder: Path) -> Article:
    if reader == "blocks" and page.text_file is not None:
        return load_article(page.text_file)
    path = folder / f"{page.name}.html"
    path.write_text(page.html, encoding="utf-8")
    return load_article(path, html_reader=reader)


def score(pages: list[Labelled], reader: str) -> dict[str, float]:
    s = Score()
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            started = time.perf_counter()
            try:
                article = read(page, reader, Path(tmp))
                kept = article.body_text()
            except Exception:  # a reader that finds nothing keeps nothing
                article, kept = None, ""
            s.seconds += time.perf_counter() - started
            s.pages += 1
            got, gold = words(kept), words(page.body)
            s.words_kept += sum(got.values())
            s.words_gold += sum(gold.values())
            s.words_right += sum((got & gold).values())
            if page.title:
                s.field("title", article is not None and _same(article.title, page.title))
                s.field("outlet", article is not None and _same(article.outlet, page.outlet))
                s.field("date", article is not None and article.published[:10] == page.day)
            if page.author:
                s.field("author", article is not None and _same(article.author, page.author))
    return s.row()


def _same(a: str, b: str) -> bool:
    return " ".join(html.unescape(a).split()).lower() == " ".join(b.split()).lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.extraction", description=__doc__)
    parser.add_argument("--pack", type=Path, default=PACK, help="MultiHop pack docs folder")
    parser.add_argument("--out", type=Path, help="write the rows as JSON")
    args = parser.parse_args(argv)
    if not args.pack.is_dir():
        print(f"error: no pack articles at {args.pack}", file=sys.stderr)
        return 2
    sets = {"saved pages (MultiHop, 3 layouts)": pack_pages(args.pack), "seeds": seed_pages()}
    rows = []
    for set_name, pages in sets.items():
        for reader in READERS:
            rows.append({"set": set_name, "pages": len(pages), "reader": reader,
                         **score(pages, reader)})  # fmt: skip
    keys = ["precision", "recall", "f1", "title_right", "outlet_right", "date_right",
            "author_right", "ms_per_page"]  # fmt: skip
    print("| set | reader | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for row in rows:
        cells = " | ".join(str(row.get(k, "–")) for k in keys)
        print(f"| {row['set']} ({row['pages']}) | {row['reader']} | {cells} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
