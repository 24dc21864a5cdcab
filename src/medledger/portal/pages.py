"""The portal's pages as server-rendered HTML (string templates, every value escaped).

No inline script and no inline style anywhere (the Content-Security-Policy forbids both):
behaviour comes from /static/portal.js, looks from /static/portal.css. Every control has a label;
forms work without JavaScript.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from medledger.codes import Category, Purpose
from medledger.portal.summaries import UNITS, Summary, date_time, iso, span

NAV = (
    ("timeline", "/timeline", "Timeline"),
    ("grants", "/grants", "Who can see what"),
    ("log", "/log", "Access log"),
    ("emergency", "/emergency", "Emergency"),
    ("safety", "/safety", "Safety"),
)


def e(value: object) -> str:
    return escape(str(value), quote=True)


def words(name: str) -> str:
    return name.lower().replace("_", " ")


@dataclass
class Chrome:
    """What every unlocked page shows around its content."""

    patient_id: int
    address: str
    csrf: str
    flash: Sequence[tuple[str, str]] = ()
    alerts: Sequence[str] = ()


def hidden_csrf(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(token)}">'


def document(title: str, body: str, *, page: str = "", chrome: Chrome | None = None) -> str:
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · medledger portal</title>"
        '<link rel="stylesheet" href="/static/portal.css">'
        '<script src="/static/portal.js" defer></script></head>'
    )
    top = ""
    if chrome is not None:
        links = "".join(
            f'<a href="{href}"'
            + (' aria-current="page"' if key == page else "")
            + f">{e(text)}</a>"
            for key, href, text in NAV
        )
        top = (
            '<header class="top"><div class="who"><span class="brand">medledger</span> '
            f"<span>patient #{chrome.patient_id}</span> "
            f'<code class="addr">{e(chrome.address)}</code></div>'
            f'<nav aria-label="Portal sections">{links}</nav>'
            f'<form method="post" action="/lock" class="lock">{hidden_csrf(chrome.csrf)}'
            '<button type="submit">Lock</button></form></header>'
        )
    notes = ""
    if chrome is not None:
        notes = "".join(f'<div class="alert danger" role="alert">{a}</div>' for a in chrome.alerts)
        notes += "".join(
            f'<div class="flash {e(level)}" role="{"alert" if level == "error" else "status"}">'
            f"{e(text)}</div>"
            for level, text in chrome.flash
        )
    return (
        f'{head}<body data-page="{e(page)}"><a class="skip" href="#main">Skip to content</a>'
        f'{top}<div id="live" class="live" role="status" aria-live="polite" hidden></div>'
        f'<main id="main" tabindex="-1"><h1>{e(title)}</h1>{notes}{body}</main></body></html>'
    )


def message_page(title: str, text: str, *, back: str = "/", status_class: str = "error") -> str:
    body = (
        f'<div class="flash {e(status_class)}" role="alert">{e(text)}</div>'
        f'<p><a href="{e(back)}">Back</a></p>'
    )
    return document(title, body)


# --- unlock ----------------------------------------------------------------------------------


def unlock(account: str, token: str, message: str | None = None) -> str:
    note = f'<div class="flash error" role="alert">{e(message)}</div>' if message else ""
    body = (
        f"{note}<p>Unlock your key <strong>{e(account)}</strong> with its keystore password. "
        "The key stays on this computer: the page never receives it, and the portal forgets "
        "it when you lock, after a while without activity, or when it stops.</p>"
        '<form method="post" action="/unlock" class="card narrow">'
        f"{hidden_csrf(token)}"
        '<label for="password">Keystore password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password" '
        "required autofocus>"
        '<button type="submit">Unlock</button></form>'
    )
    return document("Unlock your medical record", body, page="unlock")


# --- timeline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordRow:
    record_id: str
    category: Category
    author: str
    created_at: int
    erased: bool


def timeline(chrome: Chrome, rows: Sequence[RecordRow], category: str | None) -> str:
    options = ['<option value="">All categories</option>'] + [
        f'<option value="{c.name.lower()}"'
        + (" selected" if category == c.name.lower() else "")
        + f">{e(words(c.name))}</option>"
        for c in Category
    ]
    form = (
        '<form method="get" action="/timeline" class="filters">'
        '<label for="category">Category</label>'
        f'<select id="category" name="category">{"".join(options)}</select>'
        '<button type="submit">Show</button></form>'
    )
    shown = [r for r in rows if category in (None, "", r.category.name.lower())]
    if not shown:
        return document(
            "Timeline", form + '<p class="muted">No records.</p>', page="timeline", chrome=chrome
        )
    items = []
    day = None
    for r in sorted(shown, key=lambda r: (-r.created_at, r.record_id)):
        this_day = iso(r.created_at)[:10]
        if this_day != day:
            if day is not None:
                items.append("</ol>")
            items.append(f'<h2 class="day"><time datetime="{this_day}">{this_day}</time></h2>')
            items.append('<ol class="records">')
            day = this_day
        action = (
            '<span class="muted">erased</span>'
            if r.erased
            else f'<a class="button" href="/records/{e(r.record_id)}">Open</a>'
        )
        items.append(
            f'<li class="record"><span class="tag cat-{r.category.value}">'
            f"{e(words(r.category.name))}</span> "
            f'<span class="what">by {e(r.author)}</span> '
            f'<time datetime="{iso(r.created_at)}">{date_time(r.created_at)}</time> {action}</li>'
        )
    items.append("</ol>")
    intro = (
        '<p class="muted">Records are listed from the chain; a record is fetched and decrypted '
        "on this computer only when you open it.</p>"
    )
    return document("Timeline", intro + form + "".join(items), page="timeline", chrome=chrome)


def record(chrome: Chrome, row: RecordRow, summaries: Sequence[Summary] | None, size: int) -> str:
    head = (
        f'<p><span class="tag cat-{row.category.value}">{e(words(row.category.name))}</span> '
        f"added {date_time(row.created_at)} by {e(row.author)}</p>"
    )
    if summaries is None:
        body = (
            f"<p>This record is a file ({size} bytes) that is not a FHIR resource.</p>"
            f'<p><a class="button" href="/records/{e(row.record_id)}/download" download>'
            "Download the decrypted file</a></p>"
        )
    else:
        cards = "".join(
            f'<section class="card fhir" aria-label="{e(s.kind)}"><h2>'
            f'<span class="kind">{e(s.kind)}</span> {e(s.title)}</h2>'
            + "".join(f"<p>{e(d)}</p>" for d in s.details)
            + "</section>"
            for s in summaries
        )
        body = cards + (
            f'<p><a href="/records/{e(row.record_id)}/download" download>'
            "Download the decrypted record (JSON)</a></p>"
        )
    back = '<p><a href="/timeline">Back to the timeline</a></p>'
    return document("Record", head + body + back, page="timeline", chrome=chrome)


# --- grants ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantRow:
    grantee: str
    name: str
    categories: tuple[str, ...]
    purposes: tuple[str, ...]
    actions: tuple[str, ...]
    valid_until: int
    remaining: int


def countdown(until: int, remaining: int) -> str:
    return (
        f'<time class="countdown" datetime="{iso(until)}" data-remaining="{remaining}">'
        f"{span(remaining)}</time>"
    )


def grants(
    chrome: Chrome,
    rows: Sequence[GrantRow],
    providers: Sequence[tuple[str, str]],
) -> str:
    if rows:
        trs = "".join(
            f'<tr data-grantee="{e(g.grantee)}"><th scope="row">{e(g.name)}'
            f'<br><code class="addr">{e(g.grantee)}</code></th>'
            f'<td data-label="Categories">{e(", ".join(g.categories))}</td>'
            f'<td data-label="Purposes">{e(", ".join(g.purposes))}</td>'
            f'<td data-label="Actions">{e(", ".join(g.actions))}</td>'
            f'<td data-label="Time left">{countdown(g.valid_until, g.remaining)}<br>'
            f'<span class="muted">until {date_time(g.valid_until)}</span></td>'
            f'<td><a class="button danger" href="/grants/revoke?grantee={e(g.grantee)}" '
            f'aria-label="Revoke {e(g.name)}">Revoke</a></td></tr>'
            for g in rows
        )
        table = (
            '<div class="scroll"><table class="grants stack"><caption>Active grants</caption>'
            '<thead><tr><th scope="col">Who</th><th scope="col">Categories</th>'
            '<th scope="col">Purposes</th><th scope="col">Actions</th>'
            '<th scope="col">Time left</th><th scope="col"><span class="sr">Revoke</span></th>'
            f"</tr></thead><tbody>{trs}</tbody></table></div>"
        )
    else:
        table = '<p class="muted" id="no-grants">Nobody holds a grant from you right now.</p>'
    who = "".join(f'<option value="{e(a)}">{e(n)}</option>' for a, n in providers)
    cats = "".join(
        f'<label class="check"><input type="checkbox" name="categories" '
        f'value="{c.name.lower()}"> {e(words(c.name))}</label>'
        for c in Category
    )
    purposes = "".join(
        f'<option value="{p.name.lower()}">{e(words(p.name))}</option>' for p in Purpose
    )
    units = "".join(
        f'<option value="{u}"' + (" selected" if u == "days" else "") + f">{u}</option>"
        for u in UNITS
    )
    form = (
        '<section class="card"><h2 id="grant-h">Give access</h2>'  # noqa: S608 - HTML
        '<form method="post" action="/grants" aria-labelledby="grant-h">'
        f"{hidden_csrf(chrome.csrf)}"
        '<label for="grantee">Provider (from the registry)</label>'
        f'<select id="grantee" name="grantee" required>{who}</select>'
        f'<fieldset><legend>Categories</legend><div class="checks">{cats}</div></fieldset>'
        '<label for="purpose">Purpose</label>'
        f'<select id="purpose" name="purpose">{purposes}</select>'
        "<fieldset><legend>Actions</legend>"
        '<label class="check"><input type="checkbox" name="actions" value="read" checked> '
        "read</label>"
        '<label class="check"><input type="checkbox" name="actions" value="write"> '
        "write (add records)</label></fieldset>"
        '<fieldset class="inline"><legend>For how long</legend>'
        '<label for="amount" class="sr">Amount</label>'
        '<input id="amount" name="amount" type="number" min="1" max="100000" value="30" '
        'required inputmode="numeric">'
        f'<label for="unit" class="sr">Unit</label><select id="unit" name="unit">{units}</select>'
        "</fieldset>"
        '<button type="submit">Grant access</button></form>'
        '<p class="muted">The grant and its key delivery are planned exactly as the SDK and '
        "the command line do it, then sent from this computer with your key.</p></section>"
    )
    return document("Who can see what", table + form, page="grants", chrome=chrome)


#: what the revocation page says (docs/crypto.md: revocation rotates keys; copies stay copies)
REVOKE_DOES = (
    "ends this provider's consent now: from this moment the contract refuses (and logs) its "
    "reads of your records;",
    "moves the categories it held to new keys in the same transaction, so records added from now "
    "on are unreadable to it even if it keeps the ciphertext;",
    "keeps every past access in your access log.",
)
REVOKE_DOES_NOT = (
    "recall copies it already read and decrypted: those stay under its own retention and legal "
    "obligations;",
    "make records it could read before unreadable to it if it kept their ciphertext and keys;",
    "remove its past accesses from the log (the log is permanent).",
)


def revoke_confirm(chrome: Chrome, g: GrantRow) -> str:
    does = "".join(f"<li>{e(t)}</li>" for t in REVOKE_DOES)
    does_not = "".join(f"<li>{e(t)}</li>" for t in REVOKE_DOES_NOT)
    body = (
        f"<p>Revoke <strong>{e(g.name)}</strong> ({e(', '.join(g.categories))}; "
        f"{countdown(g.valid_until, g.remaining)} left)?</p>"
        f'<section class="card"><h2>Revocation does</h2><ul>{does}</ul>'
        f"<h2>Revocation does not</h2><ul>{does_not}</ul></section>"
        '<form method="post" action="/grants/revoke" class="actions">'
        f'{hidden_csrf(chrome.csrf)}<input type="hidden" name="grantee" value="{e(g.grantee)}">'
        '<button type="submit" class="danger">Revoke now</button> '
        '<a class="button" href="/grants">Cancel</a></form>'
    )
    return document("Revoke access", body, page="grants", chrome=chrome)


# --- access log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogRow:
    seq: int
    time: int
    who: str
    address: str
    what: str
    purpose: str
    outcome: str
    allowed: bool
    access: bool


def log_row(r: LogRow) -> str:
    mark = "allowed" if r.allowed else "denied"
    return (
        f'<tr class="{mark}" data-seq="{r.seq}"><td>{r.seq}</td>'
        f'<td><time datetime="{iso(r.time)}">{date_time(r.time)}</time></td>'
        f"<td>{e(r.who)}</td><td>{e(r.what)}</td><td>{e(r.purpose)}</td>"
        f'<td><span class="badge {mark}">{e(r.outcome)}</span></td></tr>'
    )


def access_log(
    chrome: Chrome,
    rows: Sequence[LogRow],
    *,
    chart: str,
    verified: bool,
    verification: str,
    outcome: str,
    who: str,
    whos: Iterable[str],
    newest: int,
) -> str:
    status = (
        f'<p class="verified ok" id="verification">Hash chain verified: {e(verification)}</p>'
        if verified
        else f'<p class="verified bad" id="verification" role="alert">Hash chain does NOT '
        f"verify: {e(verification)}</p>"
    )
    outcome_opts = "".join(
        f'<option value="{v}"' + (" selected" if v == outcome else "") + f">{t}</option>"
        for v, t in (
            ("all", "All entries"),
            ("access", "Accesses only"),
            ("allowed", "Allowed accesses"),
            ("denied", "Denied attempts"),
        )
    )
    who_opts = '<option value="">Everyone</option>' + "".join(
        f'<option value="{e(w)}"' + (" selected" if w == who else "") + f">{e(w)}</option>"
        for w in sorted(set(whos))
    )
    filters = (
        '<form method="get" action="/log" class="filters">'
        '<label for="outcome">Show</label>'
        f'<select id="outcome" name="outcome">{outcome_opts}</select>'
        '<label for="who">By</label>'
        f'<select id="who" name="who">{who_opts}</select>'
        '<button type="submit">Filter</button></form>'
    )
    downloads = (
        '<section class="card"><h2>Downloads</h2><ul class="downloads">'
        '<li><a href="/download/accounting.html" download>HIPAA accounting of disclosures '
        "(HTML)</a></li>"
        '<li><a href="/download/accounting.csv" download>Accounting of disclosures (CSV)</a></li>'
        '<li><a href="/download/fhir.json" download>FHIR export (consents, audit events, '
        "provenance)</a></li></ul></section>"
    )
    table = (
        '<div class="scroll"><table class="log" id="log-table"><caption>Every entry, newest '
        'first</caption><thead><tr><th scope="col">#</th><th scope="col">When</th>'
        '<th scope="col">Who</th><th scope="col">What</th><th scope="col">Purpose</th>'
        f'<th scope="col">Outcome</th></tr></thead><tbody id="log-body" data-newest="{newest}" '
        f'data-outcome="{e(outcome)}" data-who="{e(who)}">'
        + "".join(log_row(r) for r in rows)
        + "</tbody></table></div>"
    )
    body = (
        status + f'<section class="card"><h2>Accesses over time, per recipient</h2>'
        f'<div class="scroll chart-wrap" id="chart">{chart}</div>'
        '<p class="legend"><span class="key read">● allowed read</span> '
        '<span class="key emergency">◆ emergency read</span> '
        '<span class="key denied">✕ denied</span> '
        '<span class="muted">each moment has its own column; "+3 d" marks a gap</span></p>'
        "</section>" + filters + table + downloads
    )
    return document("Access log", body, page="log", chrome=chrome)


# --- emergency -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowRow:
    responder: str
    name: str
    reason: str
    opened_at: int
    expires_at: int
    remaining: int


def emergency(
    chrome: Chrome,
    *,
    categories: Sequence[str],
    max_duration: int,
    opt_out: bool,
    responders: Sequence[tuple[str, str]],
    windows: Sequence[WindowRow],
) -> str:
    settings = (
        '<section class="card"><h2>Break-glass settings</h2><dl>'
        f"<dt>Emergency categories</dt><dd>{e(', '.join(categories) or 'none')}</dd>"
        f"<dt>Longest emergency access</dt><dd>{span(max_duration)}</dd>"
        f"<dt>Opted out</dt><dd>{'yes' if opt_out else 'no'}</dd>"
        "<dt>Responders holding the emergency kit</dt><dd>"
        + (
            "<ul>"
            + "".join(f"<li>{e(n)} <code class='addr'>{e(a)}</code></li>" for a, n in responders)
            + "</ul>"
            if responders
            else "none"
        )
        + "</dd></dl></section>"
    )
    if windows:
        rows = "".join(
            f'<tr data-responder="{e(w.responder)}"><th scope="row">{e(w.name)}</th>'
            f'<td data-label="Why">{e(w.reason)}</td>'
            f'<td data-label="Opened">{date_time(w.opened_at)}</td>'
            f'<td data-label="Until">{date_time(w.expires_at)}<br>'
            f"{countdown(w.expires_at, w.remaining)} left</td>"
            f'<td><form method="post" action="/emergency/close">{hidden_csrf(chrome.csrf)}'
            f'<input type="hidden" name="responder" value="{e(w.responder)}">'
            f'<button type="submit" class="danger" aria-label="Close now: {e(w.name)}">'
            "Close now</button></form></td></tr>"
            for w in windows
        )
        open_ = (
            '<div class="scroll"><table id="windows" class="stack">'
            "<caption>Open break-glass windows</caption>"
            '<thead><tr><th scope="col">Who</th><th scope="col">Why</th>'
            '<th scope="col">Opened</th><th scope="col">Until</th>'
            '<th scope="col"><span class="sr">Close</span></th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
        )
    else:
        open_ = '<p class="muted" id="no-windows">No break-glass window is open.</p>'
    return document("Emergency access", open_ + settings, page="emergency", chrome=chrome)


# --- safety ----------------------------------------------------------------------------------


def safety(
    chrome: Chrome,
    *,
    guardians: Sequence[tuple[str, str]],
    threshold: int,
    delay: int,
    backed_up: bool,
    paper: Sequence[str],
    pending: str | None,
) -> str:
    banner = ""
    if pending is not None:
        banner = (
            f'<div class="alert danger" role="alert" id="pending-recovery"><p>{e(pending)}</p>'
            f'<form method="post" action="/safety/cancel-recovery">{hidden_csrf(chrome.csrf)}'
            '<button type="submit" class="danger">Cancel this recovery</button></form></div>'
        )
    if guardians:
        glist = (
            "<ul>"
            + "".join(f"<li>{e(n)} <code class='addr'>{e(a)}</code></li>" for a, n in guardians)
            + "</ul>"
        )
        gtext = (
            f"<p>{threshold} of {len(guardians)} guardians together can move your record to a "
            f"new key, after a delay of {span(delay)} during which you can cancel.</p>{glist}"
        )
    else:
        gtext = (
            "<p>No guardians are set: if you lose this key, nobody can recover your record. "
            "Set guardians with <code>medledger recovery setup</code>.</p>"
        )
    backup = (
        "<p>Your keys are backed up as sealed guardian shares"
        + (f" (paper shares held by: {e(', '.join(paper))})" if paper else "")
        + ".</p>"
        if backed_up
        else "<p>No key backup is published: guardians could give you control back, but not "
        "your record keys.</p>"
    )
    body = (
        banner
        + f'<section class="card"><h2>Guardians and recovery</h2>{gtext}</section>'
        + f'<section class="card"><h2>Key backup</h2>{backup}</section>'
    )
    return document("Safety", body, page="safety", chrome=chrome)
