"""Topic tags from free text, in English and French, with a curated lexicon.

Text is lower-cased, stripped of accents and split into words; a topic matches when a
word starts with one of its stems (``bruit`` matches *bruit*, *bruits*, *bruyant* does
not: it has its own stem) or when a phrase of several words appears in order. Stems are
chosen to avoid everyday false friends (``port`` would match *portable*; ``porte`` is
used instead). Tags also point at the sensor signals worth looking at next to the text.
"""

from __future__ import annotations

import re
import unicodedata

# topic -> (word stems, phrases), without accents, lower case. A stem matches words that
# start with it; a stem ending in "$" matches that word only ("hot$" is not "hotel").
LEXICON: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "doors": (
        ("door", "porte", "reopen", "rouvr", "reouvr", "battant", "vantail", "vantaux"),
        ("ferme mal", "ne ferme pas", "won t close", "keeps opening", "se rouvre"),
    ),
    "breakdown": (
        ("broken", "breakdown", "panne", "down$", "stuck", "bloque", "unusable"),
        (
            "out of order",
            "out of service",
            "hors service",
            "ne marche",
            "not working",
            "ne fonctionne",
            "doesn t work",
            "does not work",
            "isn t working",
            "marche plus",
            "a l arret",
            "est arrete",
        ),
    ),
    "entrapment": (
        ("trapped", "entrap", "coince", "enferme"),
        ("stuck inside", "stuck in the", "bloque dedans", "bloque a l interieur", "bloquee dans"),
    ),
    "noise": (
        (
            "noise",
            "noisy",
            "bruit",
            "bruyant",
            "grinc",
            "squeak",
            "rattl",
            "claqu",
            "bang",
            "sifflement",
            "whistl",
            "loud",
        ),
        (),
    ),
    "vibration": (("vibrat", "shak", "secous", "tremble", "jerk", "saccad", "jolt"), ("a coups",)),
    "leveling": (
        ("trebuch", "tripped"),
        ("not level", "pas au niveau", "pas a niveau", "not flush", "step up", "step down", "une marche"),
    ),
    "speed": (("slow", "lent", "lente", "speed", "vitesse"), ()),
    "waiting_time": (
        ("wait", "attend", "attente", "forever", "eternite"),
        ("takes ages", "long time", "trop long", "des heures"),
    ),
    "cleanliness": (
        (
            "dirty",
            "clean",
            "sale$",
            "sales$",
            "salete",
            "propre",
            "odeur",
            "smell",
            "stink",
            "pue$",
            "puent$",
            "urine",
            "dechet",
            "trash",
            "litter",
            "graffiti",
        ),
        (),
    ),
    "lighting": (("light", "lamp", "lumiere", "eclairage", "ampoule", "dark", "sombre"), ()),
    "buttons": (("button", "bouton", "display", "afficheur", "ecran", "indicator", "voyant"), ()),
    "staff": (
        (
            "technician",
            "technicien",
            "staff",
            "personnel",
            "rude",
            "impoli",
            "polite",
            "poli$",
            "polie$",
            "agent",
        ),
        ("service client", "customer service", "nobody came", "personne n est venu"),
    ),
    "temperature": (("hot$", "chaud", "chaleur", "cold", "froid", "ventilat", "clim", "aircon"), ()),
}

# signals on the asset's charts that go with a topic (see portal.assets.charts)
TOPIC_SIGNALS = {
    "doors": ("door_reopenings",),
    "leveling": ("leveling_error_mm",),
    "vibration": ("vibration_mm_s",),
    "noise": ("vibration_mm_s",),
    "breakdown": ("motor_temp_c",),
    "temperature": ("motor_temp_c",),
}

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def normalise(text: str) -> str:
    """Lower case, no accents, apostrophes and punctuation as spaces."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_WORD.findall(plain))


def _matches(stem: str, word: str) -> bool:
    return word == stem[:-1] if stem.endswith("$") else word.startswith(stem)


def topics(text: str) -> list[str]:
    """The topics of ``text``, in lexicon order (no duplicates)."""
    plain = normalise(text)
    words = plain.split()
    padded = f" {plain} "
    return [
        topic
        for topic, (stems, phrases) in LEXICON.items()
        if any(_matches(stem, word) for word in words for stem in stems)
        or any(f" {phrase} " in padded for phrase in phrases)
    ]
