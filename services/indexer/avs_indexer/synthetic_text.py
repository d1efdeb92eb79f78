"""Word pools and builders of the text-heavy parts of synthetic entries.

Used by :mod:`avs_indexer.synthetic`. Titles, names and prose are invented; only
generic vocabulary (genre and studio names, kana) is real. Every builder takes a
:class:`FastRandom` and is a pure function of its state, so output is deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")


class FastRandom(random.Random):
    """``random.Random`` whose ``choice``/``randint``/``sample`` are built on ``random()``.

    Deterministic for a seed (the algorithms here are ours, so they cannot change
    under us) and about three times faster than the base class's exact integer
    sampling, which dominates generation time otherwise.
    """

    def choice(self, seq: Sequence[T]) -> T:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def sample(self, population: Sequence[T], k: int, *, counts: object = None) -> list[T]:
        n = len(population)
        if not 0 <= k <= n:
            raise ValueError("sample larger than population or negative")
        if 3 * k > n:  # partial Fisher-Yates
            pool = list(population)
            for i in range(k):
                j = i + int(self.random() * (n - i))
                pool[i], pool[j] = pool[j], pool[i]
            return pool[:k]
        picked: dict[int, None] = {}
        while len(picked) < k:
            picked[int(self.random() * n)] = None
        return [population[i] for i in picked]


class Title(NamedTuple):
    """One title in three scripts."""

    romaji: str
    japanese: str
    english: str


class Name(NamedTuple):
    """A person: family and given name in romaji, the kanji name, gender."""

    family: str
    given: str
    native: str
    gender: str


def split_spec(spec: str) -> list[str]:
    """``"a; b"`` or one item per line -> ``["a", "b"]``; a line ending in ``|`` continues."""
    return [part.strip() for part in spec.replace("|\n", "|").replace("\n", ";").split(";") if part.strip()]


def parse_rows(spec: str) -> list[tuple[str, ...]]:
    """``"a|b; c|d"`` -> ``[("a", "b"), ("c", "d")]``."""
    return [tuple(p.strip() for p in row.split("|")) for row in split_spec(spec)]


# Gojuon: romaji | hiragana | katakana, one kana per syllable.
_KANA = parse_rows("""
a i u e o|あいうえお|アイウエオ; ka ki ku ke ko|かきくけこ|カキクケコ; sa shi su se so|さしすせそ|サシスセソ
ta chi tsu te to|たちつてと|タチツテト; na ni nu ne no|なにぬねの|ナニヌネノ
ha hi fu he ho|はひふへほ|ハヒフヘホ
ma mi mu me mo|まみむめも|マミムメモ; ya yu yo|やゆよ|ヤユヨ; ra ri ru re ro|らりるれろ|ラリルレロ
ga gi gu ge go|がぎぐげご|ガギグゲゴ; za ji zu ze zo|ざじずぜぞ|ザジズゼゾ; da de do|だでど|ダデド
ba bi bu be bo|ばびぶべぼ|バビブベボ; pa pi pu pe po|ぱぴぷぺぽ|パピプペポ
""")
SYLLABLES = [(r, hira[i], kata[i]) for rs, hira, kata in _KANA for i, r in enumerate(rs.split())]

# Title words: romaji | Japanese | English.
WORDS = parse_rows("""
Hoshi|星|Star; Sora|空|Sky; Yume|夢|Dream; Tsuki|月|Moon; Hana|花|Flower; Kaze|風|Wind; Umi|海|Sea
Yoru|夜|Night; Hikari|光|Light; Kage|影|Shadow; Ken|剣|Sword; Mahou|魔法|Magic; Gakuen|学園|Academy
Sekai|世界|World; Monogatari|物語|Tale; Densetsu|伝説|Legend; Shoujo|少女|Girl; Shounen|少年|Boy
Tenshi|天使|Angel; Akuma|悪魔|Devil; Maou|魔王|Demon Lord; Yuusha|勇者|Hero; Kishi|騎士|Knight
Hime|姫|Princess; Ryuu|竜|Dragon; Tamashii|魂|Soul; Kokoro|心|Heart; Koi|恋|Love; Natsu|夏|Summer
Fuyu|冬|Winter; Haru|春|Spring; Sakura|桜|Cherry Blossom; Mori|森|Forest; Machi|街|Town
Mirai|未来|Future; Kioku|記憶|Memory; Himitsu|秘密|Secret; Tabi|旅|Journey; Kiseki|奇跡|Miracle
Senki|戦記|War Chronicle; Tantei|探偵|Detective; Shinobi|忍|Shinobi; Kamisama|神様|God
Youkai|妖怪|Spirit; Kuni|国|Kingdom; Shiro|城|Castle; Tetsu|鉄|Iron; Honoo|炎|Flame; Koori|氷|Ice
Arashi|嵐|Storm; Niji|虹|Rainbow; Uta|歌|Song; Hoshizora|星空|Starry Sky; Kaizoku|海賊|Pirate
Mahoutsukai|魔法使い|Wizard; Kenshi|剣士|Swordsman; Tsubasa|翼|Wings; Yakusoku|約束|Promise
Unmei|運命|Destiny; Sensou|戦争|War; Kyoushitsu|教室|Classroom; Toshokan|図書館|Library
Ressha|列車|Train; Kissaten|喫茶店|Cafe; Ginga|銀河|Galaxy; Uchuu|宇宙|Space; Tokei|時計|Clock
Kagami|鏡|Mirror; Kaitou|怪盗|Phantom Thief; Oukoku|王国|Realm; Meikyuu|迷宮|Labyrinth
Hanabi|花火|Fireworks; Shima|島|Island; Tenkousei|転校生|Transfer Student; Senpai|先輩|Senpai
Kanojo|彼女|Girlfriend; Ashita|明日|Tomorrow; Kemono|獣|Beast; Tobira|扉|Door
""")
# Light-novel style titles with {a} and {b} word slots: romaji | Japanese | English.
LONG_TITLES = parse_rows("""
{a} ni Tensei shitara {b} datta Ken|{a}に転生したら{b}だった件|
That Time I Was Reborn in the {a} as a {b};
{a} no {b} wa Yasumitai|{a}の{b}は休みたい|The {b} of the {a} Wants a Break;
Boku no {a} ga {b} na Hazu ga Nai|僕の{a}が{b}なはずがない|My {a} Can't Possibly Be a {b};
{a} wo Tsuihou sareta node {b} de Kurashimasu|{a}を追放されたので{b}で暮らします|
Exiled from the {a}, I Live in the {b};
Isekai {a} to {b} no Nichijou|異世界{a}と{b}の日常|Daily Life of the {a} and the {b} in Another World
""")
SUFFIXES = parse_rows("""
2nd Season|第2期|Season 2; 3rd Season|第3期|Season 3; Final Season|最終章|Final Season
Specials|特別編|Specials; Zoku|続|Continued; Kanketsu-hen|完結編|Conclusion
""")
FAMILY_NAMES = parse_rows("""
Satou|佐藤; Suzuki|鈴木; Takahashi|高橋; Tanaka|田中; Watanabe|渡辺; Itou|伊藤; Yamamoto|山本
Nakamura|中村; Kobayashi|小林; Katou|加藤; Yoshida|吉田; Yamada|山田; Sasaki|佐々木; Yamaguchi|山口
Matsumoto|松本; Inoue|井上; Kimura|木村; Hayashi|林; Shimizu|清水; Yamazaki|山崎; Mori|森; Abe|阿部
Ikeda|池田; Hashimoto|橋本; Ishikawa|石川; Ogawa|小川; Fujita|藤田; Okada|岡田; Gotou|後藤
Hasegawa|長谷川; Murakami|村上; Kondou|近藤; Sakamoto|坂本; Endou|遠藤; Aoki|青木; Fujii|藤井
Nishimura|西村; Fukuda|福田; Miura|三浦; Okamoto|岡本; Matsuda|松田; Nakagawa|中川; Harada|原田
Tamura|田村; Kaneko|金子; Wada|和田; Ishida|石田; Ueda|上田; Morita|森田; Shibata|柴田; Kudou|工藤
Miyazaki|宮崎; Amano|天野; Kuroki|黒木; Shirogane|白銀; Hoshino|星野; Tsukishima|月島; Asahina|朝比奈
""")
GIVEN_NAMES = parse_rows("""
Haruto|陽翔|Male; Souta|蒼太|Male; Yuuto|悠人|Male; Ren|蓮|Male; Riku|陸|Male; Kaito|海斗|Male
Hayato|隼人|Male; Takumi|拓海|Male; Shun|駿|Male; Daiki|大輝|Male; Kenta|健太|Male; Ryou|涼|Male
Kouki|光輝|Male; Makoto|誠|Male; Akira|明|Male; Hiroshi|博|Male; Takeshi|武|Male; Kazuya|和也|Male
Naoki|直樹|Male; Shouta|翔太|Male; Itsuki|樹|Male; Minato|湊|Male; Yamato|大和|Male; Touma|冬馬|Male
Sakura|桜|Female; Yui|結衣|Female; Hina|陽菜|Female; Aoi|葵|Female; Rin|凛|Female; Mio|澪|Female
Yuna|結菜|Female; Mei|芽依|Female; Saki|咲|Female; Hikari|光|Female; Haruka|遥|Female; Ayaka|彩花|Female
Misaki|美咲|Female; Nanami|七海|Female; Kaede|楓|Female; Akane|茜|Female; Chihiro|千尋|Female
Kotone|琴音|Female; Shiori|栞|Female; Natsuki|夏希|Female; Midori|翠|Female; Tomoe|巴|Female
Asuka|明日香|Female; Mizuki|瑞希|Female; Kanade|奏|Female; Honoka|穂乃果|Female
""")
_GIVEN_BY_GENDER = {g: [n for n in GIVEN_NAMES if n[2] == g] for g in ("Male", "Female")}

GENRES = split_spec("""
Action; Adventure; Comedy; Drama; Fantasy; Horror; Mystery; Romance; Sci-Fi; Sports; Supernatural;
Suspense; Psychological; Mecha; Music; Ecchi; Historical; Military; School; Gourmet; Slice of Life;
Award Winning; Avant Garde; Girls Love; Boys Love
""")
TAGS = split_spec("""
action; adventure; comedy; drama; fantasy; romance; school; school life; high school; middle school;
college; slice of life; daily life; coming of age; friendship; family life; dysfunctional family; siblings;
childhood friends; love triangle; love polygon; unrequited love; boy meets girl; harem; reverse harem;
female protagonist; male protagonist; ensemble cast; anti-hero; villainess; tsundere; kuudere; idols;
band; music; classical music; vocaloid; dance; sports; baseball; basketball; soccer; volleyball;
swimming; boxing; martial arts; swordplay; guns; military; war; politics; conspiracy; mystery;
detective; crime; police; yakuza; thriller; psychological; horror; gore; survival; post-apocalyptic;
dystopia; cyberpunk; steampunk; space; space opera; aliens; robots; mecha; super power; magic;
magic school; witch; demons; angels; gods; spirits; youkai; vampires; werewolves; zombies; ghosts;
dragons; elves; isekai; reincarnation; time travel; time loop; alternative world; alternative past;
alternative present; fictional location; japan; asia; europe; earth; historical; feudal japan;
edo period; medieval; super deformed; chibi; cg animation; full cgi; stop motion; short episodes;
episodic; dialogue driven; based on a manga; based on a light novel; based on a visual novel;
based on a video game; original work; adaptation; cooking; food and beverage; gourmet; travel; camping;
fishing; animals; cats; dogs; pets; workplace; office lady; otaku culture; video games; card games;
virtual reality; game elements; artificial intelligence; androids; hacking; science fiction; parody;
satire; surreal comedy; slapstick; iyashikei; heart-warming; tragedy; revenge; betrayal; amnesia;
trauma; death; primarily female cast; primarily male cast; primarily adult cast; kids; family friendly;
shounen; shoujo; seinen; josei; commercials; advertisement; promotional; music video; crossover
""")
STUDIOS = split_spec("""
Madhouse; Sunrise; Production I.G; Kyoto Animation; Bones; Toei Animation; MAPPA; Wit Studio;
A-1 Pictures; J.C.Staff; Shaft; TMS Entertainment; Studio Deen; Pierrot; Lerche; Silver Link; Doga Kobo;
P.A. Works; Brain's Base; Kinema Citrus; OLM; CloverWorks; David Production; Trigger; Tatsunoko Production;
Nippon Animation; Shin-Ei Animation; Passione; Zexcs; feel.; Satelight; Gonzo; Studio Hibari; Diomedea
""")
PRODUCERS = split_spec("""
Aniplex; Lantis; Pony Canyon; Bandai Visual; Kadokawa; Shueisha; Dentsu; Movic; TOHO; Fuji TV; TBS;
TV Tokyo; NHK; Avex Pictures; Sony Music Entertainment; Kodansha; Shogakukan; Square Enix;
Warner Bros. Japan; King Records; Frontier Works; Magic Capsule; Genco; Sotsu; AT-X; Tokyo MX;
Nippon Columbia; Bushiroad; Mainichi Broadcasting System; Half H.P Studio
""")
# name | description (empty: none).
THEMES = parse_rows("""
School|Set mostly in and around a school.; Found Family|; Isekai|; Mythology|; Music|; Urban Fantasy|;
Time Travel|Characters move between different points in time.; Workplace|Centers on the routine of a job.;
Survival|Characters struggle to stay alive against the odds.; Martial Arts|; Gore|Graphic injuries.;
Iyashikei|Soothing, calm and low-stakes.; Delinquents|; Idols|; Space|; Love Polygon|
""")
DEMOGRAPHICS = split_spec("Shounen; Shoujo; Seinen; Josei; Kids")
WARNINGS = split_spec("Violence; Strong Language; Psychological themes; Trauma; Gore; Suicide")
PLATFORMS = split_spec("Crunchyroll; Netflix; HIDIVE; Amazon Prime Video; Disney+; Bilibili")
_COLORS = split_spec("Black; Brown; Blonde; Silver; Red; Blue; Pink; White; Green")
_STAFF_ROLES = parse_rows("""
directors|Director|Director; music_composers|Music_Composer|Composer;
character_designers|Character_Designer|Character Designer; original_creators|Original_Creator|Mangaka;
series_writers|Series_Writer|Script Writer
""")

# Prose. {hero} {given} {friend} {rival} {place} {org} {year} are fixed per entry;
# every other slot draws a fresh word from its pool on each use.
_POOLS = {
    "adj": split_spec("""quiet; reckless; gifted; restless; lonely; stubborn; cheerful; mysterious; cursed;
        forgotten; proud; timid; brilliant; gentle; wandering; retired; young; weary; clumsy; serious;
        kind-hearted; cunning; penniless; famous"""),
    "noun": split_spec("""sword; notebook; melody; contract; letter; map; relic; camera; violin; robot; diary;
        key; mask; compass; lantern; garden; bakery; workshop; telescope; radio; umbrella; pocket watch"""),
    "goal": split_spec("""win the national tournament; find a missing sister; break an ancient curse;
        save the failing family shop; become the strongest mage in the land; confess before graduation;
        uncover the truth behind a string of disappearances; return to the world they came from;
        rebuild a ruined kingdom; form a band that can fill a stadium; protect the city from monsters;
        pay off an enormous debt; reach the bottom of the labyrinth; keep a promise made years ago;
        open the best restaurant in town; graduate without anyone learning the secret"""),
    "threat": split_spec("""a shadowy organization; an army of the undead; a rival school;
        a collapsing economy;
        a rogue artificial intelligence; the demon lord's generals; a serial kidnapper; an approaching storm;
        a corrupt noble family; an alien fleet; a forgotten god; the student council;
        a debt collector with no patience; a plague of nightmares"""),
    "time": split_spec("""One spring morning; After the war; On the first day of school; Ten years later;
        During a summer festival; In the year 2099; Late one night; When the snow begins to fall;
        Before the final exams; At the edge of the continent"""),
    "feeling": split_spec(
        "hope; doubt; courage; guilt; loneliness; pride; jealousy; resolve; curiosity; fear"
    ),
    "rel": split_spec("""a childhood friend; an eccentric teacher; a talking cat; a runaway princess;
        a former rival; a mysterious transfer student; an android maid; a retired hero; a younger brother;
        a stern grandmother; a wandering merchant; a sleepy god"""),
}
_INTROS = split_spec("""
{time}, {hero} is a {adj} student who wants nothing more than a peaceful life.;
{time}, {hero}, a {adj} apprentice from {place}, discovers a strange {noun} that changes everything.;
{hero} has spent years in {place} trying to {goal}.;
Reborn in another world with the memories of a {adj} office worker, {hero} decides to {goal}.;
The story follows {hero} through the {adj} seasons of {place}, one small moment at a time.;
In {place}, where {org} rules every street, {hero} is just another {adj} face in the crowd.
""")
_BODY = split_spec("""
Everything changes when {given} meets {rel} who claims to know how to {goal}.;
Together with {friend}, {given} sets out to {goal}, no matter the cost.;
But {threat} stands in the way, and the price of failure is higher than anyone imagined.;
As the days pass, {given} must face {feeling} and the {adj} truth about the {noun}.;
Meanwhile, {rival} schemes to use {org} to bring {place} under control.;
Joined by {rel} and {rel}, the {adj} group learns that {feeling} can be a weapon.;
In {place}, a single {noun} is worth more than a life.;
{given} never asked to be a hero, but a {adj} promise leaves no other choice.;
Hidden beneath the school lies a {noun} that {org} has guarded for centuries.;
With only {feeling} and a borrowed {noun}, {given} challenges {rival} to a duel.;
What begins as a {adj} summer job soon drags {given} into a fight against {threat}.;
Between club meetings, part-time shifts and exams, {given} slowly learns what {feeling} means.;
{friend} has a secret, and it is tied to {threat}.;
Each day brings a new {adj} customer, a new {noun}, and a new reason to {goal}.;
When {org} falls, only {given} remembers the oath they swore in {place}.;
{rival}, a {adj} prodigy from {org}, has other plans.
""")
_CLOSERS = split_spec("""
Can {given} and {friend} overcome {threat} and {goal}?; The {adj} journey has only just begun.;
Will {feeling} be enough to save {place}?
""")
_CHARACTER = split_spec("""
A {adj} member of {org} who rarely speaks about the past.;
{given}'s {adj} classmate, known for carrying an old {noun} everywhere.; Dreams of being able to {goal}.;
Hides deep {feeling} behind a cheerful smile.; Once fought against {threat} and still bears the scars.;
The {adj} heir of a family that has served {place} for generations.;
Works at a small shop in {place} and knows every rumor in town.
""")
_BACKGROUND = split_spec("""
The series was adapted from a {adj} web novel that was later published in print.;
Production was announced at a fan event in {year}, alongside a key visual.;
The original work won an award for new creators before the adaptation was made.;
A stage play based on the series premiered the following year.;
The staff visited {place} for location scouting before production started.
""")
PLACES = split_spec("""
Aozora City; the Northern Marches; Hinode Island; the Capital; Old Kyoto; Sakuragaoka;
the floating city of Elnor; Port Lumen; the Seventh District; Mount Kurama; Shirakawa Village;
the Ashen Wastes; Neo Tokyo; the Royal Academy; Kirakira Shopping Street; Lake Mizuumi
""")
ORGS = split_spec("""
the Order of the Silver Moon; the student council; the Adventurers' Guild; the Imperial Army;
the Astronomy Club; the Night Watch; the Black Market Syndicate; the Magic Research Society;
the Kendo Club; the Bureau of Supernatural Affairs; the Crimson Fleet; the Light Music Club
""")


class _Slots(dict[str, str]):
    """``format_map`` mapping: the fixed slots, else a fresh pool word on each use."""

    def __init__(self, rng: random.Random, fixed: dict[str, str]) -> None:
        super().__init__(fixed)
        self._rng = rng

    def __missing__(self, key: str) -> str:
        return self._rng.choice(_POOLS[key])


def proper_noun(rng: random.Random) -> tuple[str, str]:
    """An invented name of 2-4 kana: (romaji, katakana)."""
    parts = [rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))]
    roma, kana = "".join(p[0] for p in parts), "".join(p[2] for p in parts)
    if rng.random() < 0.2:
        roma, kana = roma + "n", kana + "ン"
    return roma.capitalize(), kana


def make_title(rng: random.Random, kind: str) -> Title:
    """A title in romaji, Japanese and English for an anime of type ``kind``."""
    a, b = rng.sample(WORDS, 2)
    roll = rng.random()
    if roll < 0.35:
        title = Title(f"{a[0]} no {b[0]}", f"{a[1]}の{b[1]}", f"{b[2]} of the {a[2]}")
    elif roll < 0.55:
        roma, kana = proper_noun(rng)
        title = Title(f"{roma} {a[0]}", f"{kana}{a[1]}", f"{a[2]} {roma}")
    elif roll < 0.7:
        title = Title(f"{a[0]} {b[0]}", f"{a[1]}{b[1]}", f"{a[2]} {b[2]}")
    elif roll < 0.82:
        title = Title(*(part.format(a=a[n], b=b[n]) for n, part in enumerate(rng.choice(LONG_TITLES))))
    else:
        roma, kana = proper_noun(rng)
        title = Title(f"{roma}: {a[0]} no {b[0]}", f"{kana} {a[1]}の{b[1]}", f"{roma}: {b[2]} of the {a[2]}")
    if kind == "MOVIE" and rng.random() < 0.5:
        return Title(f"{title.romaji} Movie", f"劇場版 {title.japanese}", f"{title.english}: The Movie")
    if rng.random() < 0.12:
        suffix = rng.choice(SUFFIXES)
        return Title(*(f"{part} {suffix[n]}" for n, part in enumerate(title)))
    return title


def macronize(romaji: str) -> str:
    """Hepburn with macrons, a common synonym spelling (``Maou`` -> ``Maō``)."""
    return romaji.replace("ou", "ō").replace("uu", "ū").replace("Ou", "Ō")


def make_name(rng: random.Random, gender: str | None = None) -> Name:
    """A Japanese person name with its kanji form (of ``gender`` when given)."""
    family = FAMILY_NAMES[int(rng.random() * len(FAMILY_NAMES))]
    pool = _GIVEN_BY_GENDER.get(gender, GIVEN_NAMES) if gender else GIVEN_NAMES
    given = pool[int(rng.random() * len(pool))]
    return Name(family[0], given[0], family[1] + given[1], given[2])


def entry_slots(rng: random.Random, cast: Sequence[Name]) -> dict[str, str]:
    """The fixed prose slots of one entry: hero, friend, rival, a place, an organisation."""
    hero, friend, rival = cast[:3]
    return {
        "hero": f"{hero.given} {hero.family}",
        "given": hero.given,
        "friend": f"{friend.given} {friend.family}",
        "rival": f"{rival.given} {rival.family}",
        "place": rng.choice(PLACES),
        "org": rng.choice(ORGS),
        "year": str(rng.randint(1990, 2025)),
    }


def make_synopsis(rng: random.Random, fixed: dict[str, str], low: int = 40, high: int = 250) -> str:
    """Plausible prose of ``low``-``high`` words: an intro, body sentences, maybe a closer."""
    target = int(rng.triangular(low, high, low + (high - low) * 0.3))
    slots = _Slots(rng, fixed)
    sentences = [rng.choice(_INTROS).format_map(slots)]
    words = sentences[0].count(" ") + 1
    for template in rng.sample(_BODY, len(_BODY)) * 4:
        sentence = template.format_map(slots)
        count = sentence.count(" ") + 1
        if words + count > high:
            if words >= low:
                break
            continue
        if rng.random() < 0.15:
            sentences.append("\n\n")
        sentences.append(sentence)
        words += count
        if words >= target:
            break
    closer = rng.choice(_CLOSERS).format_map(slots)
    if words + closer.count(" ") + 1 <= high and rng.random() < 0.4:
        sentences.append(closer)
    return " ".join(sentences).replace(" \n\n ", "\n\n")


def _sentences(rng: random.Random, pool: list[str], fixed: dict[str, str], low: int, high: int) -> str:
    slots = _Slots(rng, fixed)
    return " ".join(s.format_map(slots) for s in rng.sample(pool, rng.randint(low, high)))


def make_background(rng: random.Random, fixed: dict[str, str]) -> str:
    """A short production note (two to four sentences)."""
    return _sentences(rng, _BACKGROUND, fixed, 2, 4)


def make_episode_title(rng: random.Random) -> str:
    """An episode (or song) title such as ``The Quiet Letter``."""
    word = rng.choice(WORDS)[2]
    roll = rng.random()
    if roll < 0.4:
        return f"The {rng.choice(_POOLS['adj']).capitalize()} {word}"
    if roll < 0.7:
        return f"{word} and {rng.choice(_POOLS['noun']).title()}"
    return f"Before the {word} {rng.choice(('Sleeps', 'Falls', 'Waits', 'Begins', 'Ends'))}"


def make_characters(
    rng: random.Random, count: int, cast: Sequence[Name], fixed: dict[str, str], first_id: int, cdn: str
) -> list[dict[str, Any]]:
    """``count`` characters (ids from ``first_id``); the first ones are ``cast``."""
    characters: list[dict[str, Any]] = []
    r = rng.random
    mains = rng.randint(1, 3)
    for k in range(count):
        person = cast[k] if k < len(cast) else make_name(rng)
        cid = first_id + k
        character: dict[str, Any] = {"name": f"{person.family}, {person.given}"}
        character["role"] = "Main" if k < mains else "Supporting"
        if r() < 0.8:
            character["name_native"] = person.native
            character["name_variations"] = [person.native]
        if r() < 0.1:
            character["nicknames"] = [person.given[:3] + ("-chan" if person.gender == "Female" else "-kun")]
        character["character_ids"] = {"mal": cid}
        if r() < 0.8:
            character["images"] = [f"{cdn}/images/characters/{cid}.jpg"]
        if r() < 0.45:
            character["gender"] = person.gender
        if r() < 0.1:
            character["age"] = rng.choice((str(rng.randint(10, 40)), rng.randint(10, 40), "Unknown"))
        if r() < 0.1:
            character["hair_color"], character["eye_color"] = rng.choice(_COLORS), rng.choice(_COLORS)
        if r() < 0.25:
            character["description"] = _sentences(rng, _CHARACTER, {**fixed, "given": person.given}, 1, 3)
        if r() < 0.3:
            character["favorites"] = int(rng.paretovariate(1.2)) - 1
        page = r() < 0.3
        character["character_pages"] = {"mal": f"https://myanimelist.net/character/{cid}"} if page else {}
        if r() < 0.85:
            actor = make_name(rng, person.gender)
            character["voice_actors"] = [{"name": f"{actor.family}, {actor.given}", "language": "Japanese"}]
        characters.append(character)
    return characters


def make_staff(rng: random.Random, first_id: int) -> dict[str, list[dict[str, Any]]]:
    """``production_staff``: one to five role groups of one or two people."""
    staff: dict[str, list[dict[str, Any]]] = {}
    for k, (group, role, occupation) in enumerate(_STAFF_ROLES[: rng.randint(1, len(_STAFF_ROLES))]):
        members = []
        for m in range(rng.choice((1, 1, 1, 2))):
            person = make_name(rng)
            members.append(
                {
                    "staff_ids": {"anilist": first_id + 2 * k + m},
                    "name": f"{person.family} {person.given}",
                    "native_name": person.native,
                    "role": role,
                    "primary_occupations": [occupation],
                }
            )
        staff[group] = members
    return staff


def make_episode_details(
    rng: random.Random, count: int, first_day: int | None, duration: int, page: str, fixed: dict[str, str]
) -> list[dict[str, Any]]:
    """``count`` episodes airing weekly from ``first_day`` (a date ordinal) when known."""
    episodes: list[dict[str, Any]] = []
    titled = rng.random() < 0.6
    for number in range(1, count + 1):
        episode: dict[str, Any] = {"episode_number": number}
        if first_day is not None:
            episode["aired"] = f"{date.fromordinal(first_day + 7 * (number - 1)).isoformat()}T15:00:00Z"
        episode["duration"] = duration
        episode["filler"] = False
        episode["recap"] = rng.random() < 0.02
        episode["season_number"] = 1
        episode["title"] = make_episode_title(rng) if titled else f"Episode {number}"
        if rng.random() < 0.15:
            episode["synopsis"] = _sentences(rng, _BODY, fixed, 1, 2)
        if rng.random() < 0.2:
            episode["score"] = round(rng.uniform(3.5, 9.5), 2)
        episode["thumbnails"] = []
        episode["episode_pages"] = {"mal": f"{page}/episode/{number}"}
        episode["streaming"] = {}
        episodes.append(episode)
    return episodes
