"""Word and sentence pools of the synthetic data, and the two little parsers that read them.

Data only: :mod:`avs_indexer.synthetic_text` builds titles, names and prose from
these pools, :mod:`avs_indexer.synthetic_core` and :mod:`avs_indexer.synthetic_entries`
draw genres, tags, studios and the like. Titles, names and prose are invented;
only generic vocabulary (genre and studio names, kana) is real.
"""

from __future__ import annotations


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
GIVEN_BY_GENDER = {g: [n for n in GIVEN_NAMES if n[2] == g] for g in ("Male", "Female")}

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
COLORS = split_spec("Black; Brown; Blonde; Silver; Red; Blue; Pink; White; Green")
STAFF_ROLES = parse_rows("""
directors|Director|Director; music_composers|Music_Composer|Composer;
character_designers|Character_Designer|Character Designer; original_creators|Original_Creator|Mangaka;
series_writers|Series_Writer|Script Writer
""")

# Prose. {hero} {given} {friend} {rival} {place} {org} {year} are fixed per entry;
# every other slot draws a fresh word from its pool on each use.
SLOT_WORDS = {
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
INTROS = split_spec("""
{time}, {hero} is a {adj} student who wants nothing more than a peaceful life.;
{time}, {hero}, a {adj} apprentice from {place}, discovers a strange {noun} that changes everything.;
{hero} has spent years in {place} trying to {goal}.;
Reborn in another world with the memories of a {adj} office worker, {hero} decides to {goal}.;
The story follows {hero} through the {adj} seasons of {place}, one small moment at a time.;
In {place}, where {org} rules every street, {hero} is just another {adj} face in the crowd.
""")
BODY = split_spec("""
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
CLOSERS = split_spec("""
Can {given} and {friend} overcome {threat} and {goal}?; The {adj} journey has only just begun.;
Will {feeling} be enough to save {place}?
""")
CHARACTER_LINES = split_spec("""
A {adj} member of {org} who rarely speaks about the past.;
{given}'s {adj} classmate, known for carrying an old {noun} everywhere.; Dreams of being able to {goal}.;
Hides deep {feeling} behind a cheerful smile.; Once fought against {threat} and still bears the scars.;
The {adj} heir of a family that has served {place} for generations.;
Works at a small shop in {place} and knows every rumor in town.
""")
BACKGROUND_LINES = split_spec("""
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
