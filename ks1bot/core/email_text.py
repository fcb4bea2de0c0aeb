"""What the sender of an email wrote now: quoted history, forwards, signatures, footers.

`read_body(body)` splits a plain-text email body (HTML already turned into text) into
- the new text the sender wrote, without salutation, closing formula, signature, legal
  footer, confidentiality notice and "Sent from my iPhone" lines, and
- the quoted history below it, and — when the history is a forwarded message — that
  message's own new text and subject.

It knows the history formats of Outlook (German and English, with Reply-To/Cc lines
between From and Sent, the underscore rule), Lotus Notes (Von/An/Datum/Betreff blocks),
Gmail and Apple Mail attributions (also broken over two lines), Thunderbird, "-----
Original Message -----" separators, and ">"- or "|"-quoted lines. Pure functions only;
`tests/test_email_text.py` holds the formats, one real-looking mail each.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

# -- history boundaries ------------------------------------------------------------------
_FORWARD_MARKER = re.compile(
    r"^\s*(?:-{2,}|={2,}|_{2,})?\s*(?:weitergeleitete nachricht|forwarded message|forwarded e-?mail|"
    r"original-?nachricht weitergeleitet|message transféré|nachricht weitergeleitet)\s*(?:-{2,}|={2,}|_{2,})?\s*:?\s*$"
    r"|^\s*(?:anfang der weitergeleiteten (?:nachricht|e-?mail)|begin forwarded message|"
    r"weitergeleitete nachricht|forwarded message)\s*:?\s*$"
    r"|^\s*-{2,}\s*forwarded by .{1,120}-{2,}\s*$"
    # Outlook's server-side forwarding rule writes this note above what it forwards
    r"|^\s*(?:auto forwarded by a rule|automatisch weitergeleitet (?:durch|von) (?:einer|einer regel|regel).{0,40})\s*$"
    r"|^\s*-{2,}\s*attached message\s*-{2,}\s*$",
    re.IGNORECASE,
)
#: The marker the mail gateway writes above the text of a mail attached to a mail
#: (mail_gateway.parsing): the sender attached it to their message rather than forwarding it.
ATTACHED_MARKER = "---------- Attached message ----------"
_ATTACHED = re.compile(r"^\s*-{2,}\s*attached message\s*-{2,}\s*$", re.IGNORECASE)
#: A forward's subject ("WG:", "Fwd:" …), for forwards nested in forwards.
_FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]{1,30}\]\s*)*(?:wg|fw|fwd|tr|wtr|weitergeleitet|enc|rv|i)\s*"
                              r"(?:\[\d+\]|\(\d+\))?\s*:", re.IGNORECASE)
_ORIGINAL_MARKER = re.compile(
    r"^\s*(?:-{2,}|={2,})\s*(?:ursprüngliche nachricht|original[- ]?nachricht|original message|originalnachricht|"
    r"nachricht im original|reply message|antwort|message d'origine|original email message)\s*(?:-{2,}|={2,})\s*$",
    re.IGNORECASE,
)
#: A bare rule of dashes or underscores (Outlook draws one above a quoted header block; a
#: web form or a signature may draw one anywhere): history only when a header block follows.
_RULE = re.compile(r"^\s*(?:_{5,}|-{5,})\s*$")
#: One header line of a quoted or forwarded mail (Outlook, Notes, Apple Mail, Thunderbird).
_HEADER_LINE = re.compile(
    r"^\s*[*>]?\s*(?:von|from|gesendet|sent|datum|date|an|to|cc|kopie|bcc|blindkopie|betreff|subject|thema|"
    r"antwort an|reply-to|wichtigkeit|importance|priorität|priority|anlagen|attachments?|organisation|"
    r"gesendet von|sent by|envoyé|de|objet|à)\s*\*?\s*:\s*\*?(?:\s|$)",
    re.IGNORECASE,
)
_FROM_LINE = re.compile(r"^\s*[*>]?\s*(?:von|from|absender|de)\s*\*?\s*:", re.IGNORECASE)
_DATE_LINE = re.compile(r"^\s*[*>]?\s*(?:gesendet|sent|datum|date)\s*\*?\s*:", re.IGNORECASE)
_SUBJECT_LINE = re.compile(r"^\s*[*>]?\s*(?:betreff|subject|thema|objet)\s*\*?\s*:\s*\*?\s*(.*)$", re.IGNORECASE)
#: Lotus Notes puts a whole header block on one line after HTML-to-text conversion.
_NOTES_ONE_LINE = re.compile(r"^\s*(?:von|from)\s*:.{1,200}\b(?:an|to)\s*:.{1,400}\b(?:datum|date|gesendet|sent)\s*:",
                             re.IGNORECASE)
#: "Am … schrieb …:", "On … wrote:", "X schrieb:", "X hat am … geschrieben:", "Zitat von X:".
#: "wrote" in the languages mail clients write attributions in.
_WROTE = (r"(?:schrieb|wrote|a écrit|escribió|ha scritto|schreef|skrev|kirjoitti|escreveu|napisał|napisała|napsal|"
          r"napsala|написал|написала|írta|yazdı|έγραψε)")
_ATTRIBUTION = re.compile(
    r"^\s*(?:am|on|le|el|il|op)\b.{2,260}\b" + _WROTE + r"\b.{0,160}:\s*$"
    r"|^.{1,200}\b" + _WROTE + r"(?:\s+am\s+.{1,80})?\s*:\s*$"
    r"|^.{0,80}\d{1,2}[.:/]\d{1,2}.{0,200}\b" + _WROTE + r"\b.{0,160}:\s*$"
    r"|^.{1,200}\bhat am .{1,80} geschrieben\s*:?\s*$"
    r"|^\s*(?:zitat von|quoting)\s+.{1,160}:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^\s*(?:am|on|le|el)\s+\S", re.IGNORECASE)
_QUOTED = re.compile(r"^\s*>")
#: GroupWise and old Notes put the quoted mail's sender between ">>>" marks.
_GROUPWISE = re.compile(r"^\s*>>>\s.{1,200}>>>\s*$")
_PIPE_QUOTED = re.compile(r"^\s*\|(?:\s|$)")

# -- what is not the request -------------------------------------------------------------
_GREETING_WORDS = (
    r"(?i:hallo|hello|hi|hey|moin(?: moin)?|servus|grüß gott|grüss gott|grüß dich|grüezi(?: mitenand| mitnand)?|"
    r"grüessech|hoi|salü|salut|tach|guten (?:morgen|tag|abend)|guete morge|sehr geehrte[rs]?|geehrte[rs]?|"
    r"liebe[rs]?|dear|good (?:morning|afternoon|evening)|greetings|werte[rs]?)"
)
#: A line that is only a salutation: the greeting, then a few names or a comma at the end.
_SALUTATION = re.compile(
    r"^\s*" + _GREETING_WORDS + r"\b(?:"
    r"(?:\s+[\w.\-]+){0,5}\s*[,!:]"
    r"|(?:\s+(?:(?i:zusammen|alle|allerseits|team|support|leute|mitenand|miteinander|herr|frau|dr\.?|"
    r"damen und herren|liebes?|lieber)|[A-ZÄÖÜ][\w.\-]*))*"
    r")\s*$"
)
_SALUTATION_PREFIX = re.compile(
    r"^\s*(?:hallo|hello|hi|hey|moin|servus|grüß gott|grüezi(?: mitenand)?|guten (?:morgen|tag|abend)|"
    r"sehr geehrte[rs]? [^,\n]{1,60}|liebe[rs]? [^,\n]{1,40}|dear [^,\n]{1,40})(?: [A-ZÄÖÜ][\w.-]*){0,3}\s*,\s+",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\s*(?:"
    r"(?:mfg|vg|lg|glg|bg)\b[^\n]{0,40}"
    r"|(?:freundliche|freundlichen|freundlichem|beste|besten|viele|vielen|liebe|lieben|herzliche|herzlichen|schöne|schönen|"
    r"sonnige|sonnigen|nette|netten|ganz liebe|mit besten|mit freundlichen|mit herzlichen|mit lieben|"
    r"en liebe|e liebe|fründliche|hochachtungsvoll|mit freundlichem)\s*(?:grüße|grüsse|grüßen|grüssen|gruß|gruss|grüess|gruess|grüsse)\b"
    r"[^\n]{0,60}"
    r"|(?:gruß|gruss|grüße|grüsse|grüessli|grüezi)\b[^\n]{0,50}"
    r"|(?:danke|vielen dank|besten dank|herzlichen dank|merci|dankeschön)(?: vielmals)?(?: und| &| u\.)? "
    r"(?:viele |liebe |beste |freundliche |schöne |herzliche )?(?:grüße|grüsse|gruß|gruss|lg|vg|mfg)\b[^\n]{0,40}"
    r"|(?:vielen dank|danke|besten dank|thanks|thank you|many thanks|merci)(?: vielmals)? (?:im voraus|vorab|in advance)"
    r"[^\n]{0,40}"
    r"|(?:servus|ciao|tschüss|tschüs|tschau|baba|pfiat di|pfiat eich|adieu|bis bald|bis dann|schönen tag noch|"
    r"schönes wochenende|merci vielmals|merci|cheers|tschö)[\s!.,]*"
    r"|(?:best|kind|warm|warmest|many|with kind|with best)\s+(?:regards|wishes)\b[^\n]{0,40}"
    # closings of other European languages
    r"|(?:cordialement|bien à vous|salutations distinguées|bien cordialement|saludos(?: cordiales)?|atentamente|"
    r"un saludo|cordiali saluti|distinti saluti|saluti|met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?|mvg|"
    r"pozdrawiam|z poważaniem|s pozdravem|med vänlig hälsning|mvh|vennlig hilsen|med venlig hilsen)[\s!.,]*"
    r"|(?:regards|best|br|kr|thanks|many thanks|thank you|thx|yours(?: sincerely| truly| faithfully)?|sincerely)"
    r"[\s!.,]*(?:[A-ZÄÖÜ][\w.-]*\s*){0,3}"
    r")\s*$",
    re.IGNORECASE,
)
_SIGNATURE_DELIMITER = re.compile(r"^\\?(?:-- ?|--|—)\s*$")
_MOBILE_LINE = re.compile(
    r"^\s*(?:von meinem .{1,40} gesendet|gesendet von meinem .{1,40}|sent from my .{1,40}|"
    r"gesendet (?:von|mit) (?:outlook|der|meinem|gmx|web\.de|mail).{0,60}|get outlook for .{1,20}|"
    r"diese nachricht wurde von meinem .{1,60} gesendet\.?|sent with .{1,40}|"
    r"von meinem iphone gesendet|sent from mail for windows.{0,10}|gesendet von mail für windows.{0,10})\.?\s*$",
    re.IGNORECASE,
)
#: Where a legal footer or confidentiality notice starts: everything from there on goes.
_FOOTER_START = re.compile(
    r"^\s*(?:geschäftsführer(?:in)?|geschäftsführung|gf|vorstand|aufsichtsrat(?:svorsitzender?)?|amtsgericht|"
    r"registergericht|handelsregister|firmenbuch(?:gericht|nummer)?|sitz(?: der gesellschaft)?|hrb|hra|"
    r"ust\.?-?id(?:nr)?\.?|ust-?idnr|umsatzsteuer-?id|uid(?:-nr)?\.?|steuer-?nr\.?|steuernummer|mwst(?:-nr)?\.?|"
    r"che-\d{3}|fn \d|registered office|company registration|vat (?:no|number|reg)|managing directors?|"
    r"court of registration)\b"
    r"|^\s*(?:diese (?:e-?mail|nachricht|mail)|der inhalt dieser|die in dieser|this (?:e-?mail|message|communication)"
    r"|the information (?:contained|in this)|vertraulichkeitshinweis|haftungsausschluss|disclaimer|confidentiality"
    r"|legal notice|wichtiger hinweis:|hinweis:? diese|informationen zum datenschutz|datenschutzhinweis|"
    r"bitte denken sie an die umwelt|please consider the environment|think before you print|p please|"
    r"bitte prüfen sie, ob diese"
    # confidentiality notices of other European languages (Polish, Italian, French, Spanish, Dutch, Czech)
    r"|niniejsza wiadomość|nota di riservatezza|questo messaggio|le informazioni contenute|ce message|ce courriel|"
    r"este mensaje|este e-?mail|dit bericht|deze e-?mail|tato zpráva|tento e-?mail)\b",
    re.IGNORECASE,
)
#: Contact details a signature ends with: phone, web and mail lines ...
_CONTACT_LINE = re.compile(
    r"^\s*(?:(?:tel|tel\.|telefon|fon|phone|fax|telefax|mobil|mobile|handy|cell|t|f|m|p|direkt|durchwahl)"
    r"\.?\s*[:.]?\s*[+(]?\d[\d\s/().-]{5,}"
    r"|(?:e-?mail|mail|web|internet|homepage|www)\s*:.*"
    r"|(?:www\.|https?://)\S+"
    r"|[\w.+-]+@[\w-]+\.[\w.-]+"
    r"|\+?\d[\d\s/().-]{7,}"
    r"|(?:folgen sie uns|follow us|besuchen sie uns|visit us)\b.*"
    r")\s*$",
    re.IGNORECASE,
)
#: ... and short address, company and job-title lines (checked only at the very end).
_ADDRESS_LINE = re.compile(
    r"^\s*(?:.{0,50}(?:str\.|straße|strasse|gasse|weg|platz|allee|ring|damm|ufer)\s*\d+[a-z]?\b.{0,40}"
    r"|.{0,40}\b(?:d-|a-|ch-)?\d{4,5}\s+[A-ZÄÖÜ][\w.-]+(?:\s+[\w.-]+){0,2}"
    r"|.{0,50}\b(?:gmbh|ag|kg|ohg|e\.\s?k\.|ltd\.?|gesmbh|ges\.m\.b\.h\.|sàrl|sarl|gbr|plc|inc\.?|llc)"
    r"(?:\s*&\s*co\.?\s*kg)?.{0,20}"
    r"|(?:geschäftsführer(?:in)?|leiter(?:in)? \S+|leitung \S+|head of \S+|it-leitung|office manager|"
    r"assistenz der geschäftsführung|inhaber(?:in)?|prokurist(?:in)?|(?:\w+\s)?(?:leiter|leiterin|manager|"
    r"director|officer|assistant|assistentin|sachbearbeiter(?:in)?|disponent(?:in)?|meister(?:in)?|"
    r"techniker(?:in)?|buchhalter(?:in)?|einkäufer(?:in)?|verkäufer(?:in)?|referent(?:in)?|kaufmann|kauffrau)"
    r"(?:\s\w+)?)"
    r"|linkedin|xing|facebook|instagram|twitter)\s*$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: Notes that only pass a message on ("siehe unten", "FYI", "bitte um Rückmeldung").
_FORWARD_NOTE = re.compile(
    r"\b(?:siehe unten|s\.\s?u\.|see below|see (?:the )?(?:mail|message|email) below|fyi|zur info(?:rmation)?|"
    r"zk|z\. ?k\.|zur kenntnis|bitte um (?:rückmeldung|prüfung|erledigung|kenntnisnahme|info|hilfe)|"
    r"bitte (?:kümmern|prüfen|mal (?:anschauen|ansehen|prüfen|schauen))|weitergeleitet|forwarding|"
    r"anbei|untenstehend|unten stehend|please (?:advise|help|check|have a look|handle|look into)|"
    r"can you (?:help|check|look)|leite .{0,60}weiter|forward(?:ing)? (?:you|this)|"
    r"bitte (?:dringend |mal |kurz )?(?:bearbeiten|erledigen|ansehen|anschauen|prüfen|checken|kümmern)|"
    r"könnt ihr|können sie (?:da|hier|uns)? ?(?:helfen|weiterhelfen)|kannst du|schaut euch|"
    r"wie besprochen|as discussed|kollege|kollegin|colleague|problem (?:von|bei) |"
    r"(?:check|see|read|look at) the (?:forwarded|attached|enclosed) (?:message|mail|e-?mail)|"
    r"siehe (?:die )?(?:angehängte|weitergeleitete|beigefügte) (?:mail|e-?mail|nachricht))",
    re.IGNORECASE,
)
#: A forward whose own text has at most this many words and a note phrase is only a note.
NOTE_MAX_WORDS = 30
#: A forward whose own text has at most this many words is only a note, phrase or not.
BARE_NOTE_MAX_WORDS = 20


@dataclass(frozen=True)
class MailBody:
    """An email body split into what the sender wrote now and what came before."""

    #: What the sender wrote now, without salutation, closing, signature and footers.
    new_text: str
    #: The quoted or forwarded part below the new text ('' when there is none).
    history: str
    #: The history is (or the subject says it is) a forwarded message.
    forwarded: bool
    #: The forwarded (or quoted) message's own new text, cleaned the same way.
    inner_text: str = ""
    #: The forwarded message's subject, when its header block names one.
    inner_subject: str = ""
    #: What was taken away, for the reasons staff see.
    removed: Tuple[str, ...] = ()
    #: What the sender wrote now as they see it: like `new_text`, with the salutation.
    visible: str = ""
    #: The forwarded (or quoted) message's visible text.
    inner_visible: str = ""
    #: The history is a mail attached to the message (not forwarded inline): the sender's
    #: own text is their message unless it only points at the attachment.
    attached: bool = False

    @property
    def only_forwards(self) -> bool:
        """The sender's own text is at most a short note and the request is below it."""
        if not self.inner_text.strip():
            return False
        words = len(_WORD.findall(self.new_text))
        if words == 0:
            return True
        if not self.forwarded:
            return False
        if self.attached:
            return words <= NOTE_MAX_WORDS and bool(_FORWARD_NOTE.search(self.new_text))
        return words <= BARE_NOTE_MAX_WORDS or (words <= NOTE_MAX_WORDS and bool(_FORWARD_NOTE.search(self.new_text)))


def _lines(body: str) -> List[str]:
    return body.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").split("\n")


def _header_block_follows(lines: Sequence[str], start: int) -> bool:
    """A header block starts within the next three non-empty lines."""
    seen = 0
    for j in range(start, min(len(lines), start + 8)):
        if not lines[j].strip():
            continue
        if _header_block_at(lines, j):
            return True
        seen += 1
        if seen >= 3:
            break
    return False


def _header_block_at(lines: Sequence[str], i: int) -> bool:
    """Line i starts a block of at least two mail header lines (From first, or a Notes
    block), or of three with a From among them (web.de and GMX put "Gesendet:" first)."""
    if _NOTES_ONE_LINE.match(lines[i]):
        return True
    if not _FROM_LINE.match(lines[i]):
        return _DATE_LINE.match(lines[i]) is not None and _dated_block_at(lines, i)
    headers = 1
    for line in lines[i + 1:i + 9]:
        if not line.strip():
            continue
        if _HEADER_LINE.match(line):
            headers += 1
            if headers >= 2:
                return True
        elif headers == 1 and len(line) < 120 and not line.rstrip().endswith((".", "?", "!")):
            continue  # a From value wrapped onto the next line
        else:
            break
    return False


def _dated_block_at(lines: Sequence[str], i: int) -> bool:
    """A block that starts with its date line: three header lines in a row, one of them From."""
    block = []
    for line in lines[i:i + 6]:
        if not line.strip():
            continue
        if not _HEADER_LINE.match(line):
            break
        block.append(line)
    return len(block) >= 3 and any(_FROM_LINE.match(line) for line in block[1:3])


def _attribution_at(lines: Sequence[str], i: int) -> int:
    """How many lines an attribution ("Am … schrieb …:") starting at line i takes, else 0."""
    line = lines[i]
    if len(line) > 300:
        return 0
    if _ATTRIBUTION.match(line):
        return 1
    if _ATTRIBUTION_START.match(line) or re.search(r"<[^>\s]*$", line):
        joined = line
        for extra in range(1, 3):
            if i + extra >= len(lines):
                break
            joined = f"{joined} {lines[i + extra].strip()}"
            if _ATTRIBUTION.match(joined):
                return extra + 1
    return 0


def history_start(lines: Sequence[str]) -> Tuple[Optional[int], bool]:
    """(index of the first line of quoted or forwarded history, whether it is a forward)."""
    for i, line in enumerate(lines):
        if _FORWARD_MARKER.match(line):
            return i, True
        if _ORIGINAL_MARKER.match(line) or _GROUPWISE.match(line):
            return i, False
        if _RULE.match(line) and _header_block_follows(lines, i + 1):
            return i, False
        if _header_block_at(lines, i):
            return i, False
        if _attribution_at(lines, i):
            return i, False
        if _QUOTED.match(line) and _quote_block_from(lines, i):
            return i, False
        if _PIPE_QUOTED.match(line) and i + 1 < len(lines) and _PIPE_QUOTED.match(lines[i + 1]):
            return i, False
    return None, False


def own_text(body: str) -> str:
    """The lines the sender wrote in this mail: everything above the quoted or forwarded
    history, uncleaned (salutation, signature and footers still there)."""
    lines = _lines(body)
    start, _forwarded = history_start(lines)
    return "\n".join(lines if start is None else lines[:start])


def _quote_block_from(lines: Sequence[str], i: int) -> bool:
    """The '>' quotes from line i on are history, not an interleaved answer: no unquoted
    text of substance follows them (or they are followed by more quotes only)."""
    for line in lines[i:]:
        if line.strip() and not _QUOTED.match(line) and not _SIGNATURE_DELIMITER.match(line):
            if _CLOSING.match(line) or _MOBILE_LINE.match(line) or _CONTACT_LINE.match(line):
                continue
            return False
    return True


def _inner_message(history: Sequence[str]) -> Tuple[str, str]:
    """The body and subject of a forwarded/quoted message: marker and header lines skipped."""
    i = 0
    subject = ""
    while i < len(history) and (not history[i].strip() or _FORWARD_MARKER.match(history[i])
                                or _ORIGINAL_MARKER.match(history[i]) or _RULE.match(history[i])):
        i += 1
    attribution = _attribution_at(history, i) if i < len(history) else 0
    if attribution:
        i += attribution
    elif i < len(history) and (_HEADER_LINE.match(history[i]) or _NOTES_ONE_LINE.match(history[i])):
        while i < len(history):
            line = history[i]
            match = _SUBJECT_LINE.match(line)
            notes = None if match else re.search(r"\b(?:betreff|subject)\s*:\s*(.*)$", line, re.IGNORECASE)
            if match:
                subject = match.group(1).strip()
            elif notes and _NOTES_ONE_LINE.match(line):
                subject = subject or notes.group(1).strip()
            elif not line.strip():
                i += 1
                break
            elif not _HEADER_LINE.match(line) and _looks_like_text(line) and not line.startswith((" ", "\t")):
                break
            i += 1
    rest = [_unquote(line) for line in history[i:]]
    return "\n".join(rest), subject


def _looks_like_text(line: str) -> bool:
    return len(_WORD.findall(line)) >= 4


def _unquote(line: str) -> str:
    return re.sub(r"^\s*(?:>\s?)+", "", line)


def clean_new_text(lines: Sequence[str], keep_salutation: bool = False) -> Tuple[str, Tuple[str, ...]]:
    """The request part of the sender's own lines: mobile lines, signature, legal footer,
    closing formula and trailing contact lines removed, the salutation line too when text
    follows it (unless `keep_salutation`: the visible reply keeps it). Never returns
    nothing when there was something: a mail that is only "Danke!" stays "Danke!"."""
    removed: List[str] = []
    lines = [_CID.sub("", line) for line in lines]
    kept = [line for line in lines if not _MOBILE_LINE.match(line)]
    if len(kept) != len(lines):
        removed.append("mobile_signature")

    def content_words(upto: int) -> int:
        return sum(len(_WORD.findall(line)) for line in kept[:upto])

    for i, line in enumerate(kept):
        if _SIGNATURE_DELIMITER.match(line) and content_words(i):
            kept, removed = kept[:i], removed + ["signature"]
            break
        if _SIGNATURE_DELIMITER.match(line) and not content_words(i) and _lines_after_are_a_signature(kept[i + 1:]):
            kept, removed = [], removed + ["signature"]  # nothing but a signature (a forward without a note)
            break
    for i, line in enumerate(kept):
        if _FOOTER_START.match(line) and content_words(i) >= 1:
            cut = i
            previous = [j for j in range(i) if kept[j].strip()]
            if previous and _RULE.match(kept[previous[-1]]):
                cut = previous[-1]  # the rule drawn above the footer goes with it
            if content_words(cut) >= 1:
                kept, removed = kept[:cut], removed + ["legal_footer"]
                break
    start = _first_content(kept)
    for i in range(start + 1, len(kept)):
        if _CLOSING.match(kept[i]) and content_words(i) - _salutation_words(kept, start) >= 1:
            kept, removed = kept[:i], removed + ["closing"]
            break
    kept = _without_trailing_name(kept)
    while kept and (not kept[-1].strip() or _DECORATION.match(kept[-1])) and content_words(len(kept) - 1) >= 1:
        kept = kept[:-1]  # a rule or a line of stars the text ends with
    kept, cut_block = _without_signature_block(kept)
    if cut_block:
        removed.append("signature_block")
    while kept and (not kept[-1].strip() or _is_contact_line(kept[-1])) and content_words(len(kept) - 1) >= 3:
        if kept[-1].strip() and "contact_details" not in removed:
            removed.append("contact_details")
        kept = kept[:-1]
    start = _first_content(kept)
    if keep_salutation:
        return "\n".join(kept).strip(), tuple(removed)
    if start < len(kept) and _SALUTATION.match(kept[start]) and any(line.strip() for line in kept[start + 1:]):
        kept = kept[:start] + kept[start + 1:]
        removed.append("salutation")
    elif start < len(kept):
        prefix = _SALUTATION_PREFIX.match(kept[start])
        if prefix and len(_WORD.findall(kept[start][prefix.end():])) >= 2:
            kept = kept[:start] + [kept[start][prefix.end():]] + kept[start + 1:]
            removed.append("salutation")
    return "\n".join(kept).strip(), tuple(removed)


#: Outlook's placeholder for an inline image in the text part: "[cid:image001.png@01D8A2…]".
_CID = re.compile(r"\[cid:[^\]\s]{1,200}\]", re.IGNORECASE)
_DECORATION = re.compile(r"^\s*[-_=*~.•·]{3,}\s*$")


def _lines_after_are_a_signature(lines: Sequence[str]) -> bool:
    """A few short lines: what follows a "-- " delimiter in a mail that is only a signature."""
    content = [line for line in lines if line.strip()]
    return 0 < len(content) <= 8 and all(len(_WORD.findall(line)) <= 12 for line in content)


_PHONE_IN_LINE = re.compile(r"(?:\+|\b0)\d[\d\s/().-]{6,}\d")
_NAME_LINE = re.compile(r"^\s*(?:(?:dr|prof|dipl|ing|mag|i\.\s?a|i\.\s?v|ppa)\.?\s+)*"
                        r"[A-ZÄÖÜ][\w'’.-]*(?:\s+(?:von|van|de|zu)?\s*[A-ZÄÖÜ][\w'’.-]*){0,3}\s*,?\s*$")


def _is_contact_line(line: str) -> bool:
    if _CONTACT_LINE.match(line):
        return True
    if len(_WORD.findall(line)) <= 10 and len(_PHONE_IN_LINE.findall(line)) >= 1 and "?" not in line:
        return True  # "T 0621 44321-14 | M 0171 2233445"
    short = len(_WORD.findall(line)) <= 6 and not line.rstrip().endswith(("?", "!", "."))
    return short and bool(_ADDRESS_LINE.match(line))


_NOT_NAMES = frozenset("danke bitte hilfe dringend gruß gruss grüße grüsse thanks cheers regards urgent".split())


#: A sign-off with a dash or tilde before the name: "-Martin", "~Danielle", "– Peter Maier".
_DASH_NAME = re.compile(r"^\s*[-~–]\s?[A-ZÄÖÜ][\w'’.-]*(?:\s+[A-ZÄÖÜ][\w'’.-]*){0,2}\s*$")


def _without_trailing_name(lines: List[str]) -> List[str]:
    """A last line that is only a name ("Murat", "Peter Maier") after a finished sentence,
    or a name signed off with a dash or tilde ("-Martin") after anything."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    if len(content) < 2:
        return lines
    last, before = lines[content[-1]], lines[content[-2]].rstrip()
    if _DASH_NAME.match(last):
        return lines[:content[-1]]
    words = _WORD.findall(last)
    if (_NAME_LINE.match(last) and len(words) <= 3 and before.endswith((".", "!", "?"))
            and not any(w.lower() in _NOT_NAMES for w in words)):
        return lines[:content[-1]]
    return lines


def _without_signature_block(lines: List[str]) -> Tuple[List[str], bool]:
    """A trailing block that starts with a name line and holds mostly name, title,
    company, address and contact lines (at least one of the latter, and at least 60 %
    such lines: signatures carry a slogan or opening hours too) is a signature."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    for position, i in enumerate(content[1:], start=1):
        if not _NAME_LINE.match(lines[i]) or len(_WORD.findall(lines[i])) > 4:
            continue
        rest = [lines[j] for j in content[position + 1:]]
        contacts = sum(1 for line in rest if _is_contact_line(line))
        signature_like = sum(1 for line in rest if _is_contact_line(line) or _NAME_LINE.match(line)
                             or len(_WORD.findall(line)) <= 4)
        if rest and contacts >= 1 and signature_like >= 0.6 * len(rest) and (contacts >= 2 or signature_like == len(rest)):
            return lines[:i], True
    return lines, False


def _first_content(lines: Sequence[str]) -> int:
    for i, line in enumerate(lines):
        if line.strip():
            return i
    return len(lines)


def _salutation_words(lines: Sequence[str], start: int) -> int:
    if start < len(lines) and _SALUTATION.match(lines[start]):
        return len(_WORD.findall(lines[start]))
    return 0


def _without_quotes(lines: Sequence[str]) -> List[str]:
    """Interleaved answers: the '>' lines out, the sender's own lines kept."""
    return [line for line in lines if not _QUOTED.match(line)]


def _below_the_quote(lines: List[str]) -> Optional[List[str]]:
    """A reply written below the quote (Thunderbird's bottom-posting): an attribution at
    the top, the quoted mail, then the sender's own text. Returns the own text's lines, or
    None when the mail is not built like that."""
    first = _first_content(lines)
    if first >= len(lines):
        return None
    size = _attribution_at(lines, first)
    if not size:
        return None
    i = first + size
    quoted = 0
    while i < len(lines) and (not lines[i].strip() or _QUOTED.match(lines[i])):
        quoted += 1 if lines[i].strip() else 0
        i += 1
    rest = lines[i:]
    if quoted and sum(len(_WORD.findall(line)) for line in rest if not _QUOTED.match(line)) >= 1:
        return rest
    return None


def read_body(body: str, depth: int = 0) -> MailBody:
    """Split `body` into the sender's new text and the history (see the module docstring)."""
    lines = _lines(body)
    below = _below_the_quote(lines)
    if below is not None:
        lines = below
    start, forwarded = history_start(lines)
    own = lines if start is None else lines[:start]
    history = [] if start is None else lines[start:]
    own = _without_quotes(own)
    new_text, removed = clean_new_text(own)
    visible, _ = clean_new_text(own, keep_salutation=True)
    inner_text = inner_subject = inner_visible = ""
    if history and depth < 3:
        inner_body, inner_subject = _inner_message(history)
        inner = read_body(inner_body, depth + 1)
        if inner_subject and _FORWARD_SUBJECT.match(inner_subject):
            inner = replace(inner, forwarded=True)  # a forward inside a forward: its note may only point on
        if inner.only_forwards:
            inner_text = inner.inner_text
            inner_visible = "\n\n".join(part for part in (inner.visible, inner.inner_visible) if part.strip())
        else:
            inner_text = inner.new_text if inner.new_text else inner.inner_text
            inner_visible = inner.visible if inner.new_text else inner.inner_visible
        removed = removed + ("quoted_history",)
    attached = start is not None and bool(_ATTACHED.match(lines[start]))
    return MailBody(new_text=new_text, history="\n".join(history), forwarded=forwarded, inner_text=inner_text,
                    inner_subject=inner_subject, removed=removed, visible=visible, inner_visible=inner_visible,
                    attached=attached)


def visible_reply(body: str, subject: Optional[str] = None) -> str:
    """What the sender wrote in this mail as a person reads it: the greeting and the text,
    without closing formula, signature, footers and quoted history; for a mail that only
    forwards (a forward's subject says so too), the note and the forwarded message's own text."""
    read = read_body(body)
    if subject and _FORWARD_SUBJECT.match(subject):
        read = replace(read, forwarded=True)
    if read.only_forwards:
        return "\n\n".join(part for part in (read.visible, read.inner_visible) if part.strip())
    return read.visible


def latest_reply(body: str) -> str:
    """The text the sender wrote now; the forwarded request when the sender only forwards.

    Falls back to the whole body, unquoted, when stripping would leave nothing.
    """
    read = read_body(body)
    if read.only_forwards:
        return read.inner_text
    if read.new_text.strip():
        return read.new_text
    unquoted = "\n".join(_unquote(line) for line in _lines(body)).strip()
    return unquoted or body.strip()
