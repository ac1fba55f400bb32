"""English stories: the words and templates the arcs say, and who the story is about.

:func:`compose` draws a cast (hero, friend, grown-up), a thing and a place, fills a context dict
with every agreement-sensitive form (``{He}``, ``{his}``, ``{a_adj_obj}``...), then runs one
arc.  The arcs themselves (what happens, in what order, how likely) are written once for both
languages, in ``arcs``; this module is the English side of their interface: every template by
the name the arcs use, ``KNOBS``, and the grammar steps ``traits`` and ``gift_keys``.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Callable

from . import arcs
from . import scenes_en as S
from .arcs import Knobs
from .grammar_en import PRONOUNS, VerbPhrase, a, cap, ing, past, plural, third
from .lexicon_en import (
    ANIMAL_ADJS,
    ANIMAL_KINDS,
    ANY_ACTS,
    BOY_NAMES,
    EN,
    GIRL_NAMES,
    KID_ADJS,
    KINDS,
    PARENTS,
    PET_NAMES,
    PLACES,
    POSSESSIVE,
    THINGS,
    Place,
    Thing,
)
from .scenes import Gift
from .templates import Builder, Draft, pick, pick_name, words

T = EN.t
BOOK = EN  # the vocabulary of everything this module can write

WHEN = EN.ws(
    (
        "One day",
        "One sunny day",
        "One morning",
        "One afternoon",
        "One bright morning",
        "One warm day",
        "One sunny morning",
        "One Saturday morning",
        "One summer day",
    )
)
_FEET = {
    k: "paws"
    for k in ("dog", "puppy", "cat", "kitten", "bear", "fox", "mouse", "bunny", "squirrel")
}
EN.ws(("paws", "feet", "named", "called", "friend", "the"))
PARENT_POSS = {p: EN.w(f"{p}'s") for p in PARENTS}
FOODS = EN.ws(
    (
        "apples",
        "bananas",
        "cookies",
        "ice cream",
        "pancakes",
        "carrots",
        "soup",
        "cake",
        "cheese",
        "bread and jam",
        "berries",
        "grapes",
        "honey",
        "pie",
    )
)
COLORS = EN.ws(("red", "blue", "green", "yellow", "pink", "purple", "orange"))
THIEVES = (("puppy", "a happy bark"), ("kitten", "a soft meow"))
for _t in THIEVES:
    EN.ws(_t)

# -- shared steps (said by arcs.beats) and this language's knobs ------------------------------

INTRO = T(
    "Once upon a time, there was {np}.",
    "Once upon a time, there lived {np}.",
    "Once upon a time, in a [small|little|quiet|sunny] town, there [was|lived] {np}.",
    "There once was {np}.",
    "Once there was {np}.",
    "Long ago, there was {np}.",
)
INTRO_HOME = T("In {home}, there lived {np}.", "Once upon a time, in {home}, there lived {np}.")
TRAIT_ACT = T(
    "{He} loved to {act}.",
    "{He} liked to {act} every day.",
    "Every day, {he} liked to {act}.",
    "{name} was always happy when {he} could {act}.",
    "More than anything, {name} loved to {act}.",
)
TRAIT_HOME = T(
    "{He} lived with {his} {parent} in {home}.", "{name} lived in {home} with {his} {parent}."
)
TRAIT_KIND = T(
    "{name} was a [kind|happy|good] {kind} who [liked to help others|loved to laugh|always "
    "said please and thank you].",
    "Everyone who knew {name} said {he} had the biggest smile in town.",
    "{name} was always [curious|full of questions] and wanted to know about everything.",
)
TRAIT_LIKES = T(
    "{His} favorite food was {food}, and {his} favorite color was {color}.",
    "{name} liked {food} more than anything, except maybe playing outside.",
    "{His} favorite color was {color}.",
)
TRAIT_DAY = T(
    "Every morning, {he} ate {food} for breakfast.",
    "When the sun was out, {he} went outside to play.",
)
TRAIT_NIGHT = T(
    "At night, {his} {parent} read {him} a story, and then {he} went to sleep.",
    "At night, {he} liked to look at the moon from {his} window.",
)
TRAIT_SONG = T(
    "{He} often sang a little song to {self}.",
    "{name} had a big laugh that made everyone smile.",
)
_TRAITS = (TRAIT_HOME, TRAIT_KIND, TRAIT_LIKES, TRAIT_DAY, TRAIT_NIGHT, TRAIT_SONG)
_TRAITS_NO_HOME = (TRAIT_KIND, TRAIT_LIKES, TRAIT_DAY, TRAIT_NIGHT, TRAIT_SONG)
TRAIT_FRIEND = T("{His} best friend was {fnp}.", "{name} had a [good|best] friend named {fname}.")


def traits(b: Builder, at_home: bool) -> None:
    """After the opening line: what the hero loves to do, then a run of everyday-life lines
    (each at most once, from a random starting point, more of them in a chatty story)."""
    b.maybe(TRAIT_ACT, 0.85)
    extra = _TRAITS_NO_HOME if at_home else _TRAITS
    start = int(b.rand() * len(extra))
    for i in range(int(b.rand() * 3.4 * b.detail)):
        b.say(extra[(start + i) % len(extra)])


END_HAPPY = T(
    "{name} went home with a big smile on {his} face.",
    "It was the best day ever.",
    "That night, {name} went to bed with a big smile.",
    "{name} felt warm and happy inside.",
    "And {name} was happy for the rest of the day.",
)
END_FRIENDS = T(
    "{name} and {fname} played together until the sun went down.",
    "From that day on, {name} and {fname} were best friends.",
    "They laughed and played [all day long|until it was time for dinner].",
)
SCENERY = T(
    "The sun was shining, and the birds were singing.",
    "The sky was blue, and the grass was [soft and green|green and soft].",
    "It was a [warm|bright|beautiful] day, and there were lots of [flowers|birds|butterflies] "
    "{at_place}.",
    "A soft wind was blowing, and the leaves were dancing in the wind.",
    "The sun was warm, and everything was bright and pretty.",
)
END_MORE = T(
    "The next day, {name} told all {his} friends about it.",
    "{name} would never forget that day.",
    "It was a very good day.",
)
EPILOGUE = T(
    "The next morning, the sun was shining again, and {name} ran outside to play.",
    "After that day, {name} smiled a lot more.",
    "That night, {name} had a happy dream about {the_place}.",
    "When {he} went to bed, {name} hugged {his} pillow and smiled.",
    "Later, {name} told the whole story to {his} {parent}, and they both laughed.",
)
# English closes most arcs with one more happy line after the moral (Chinese does not).
CLOSING = END_HAPPY
KNOBS = Knobs(
    cased=True,
    helper_pronouns=("he", "He", "him", "his"),
    parent_ref="{his} {parent}",
    friend_of="{his} friend {fname}",
    epilogue_p=0.4,
    epilogue_tail=END_MORE,
    epilogue_tail_p=0.6,
    lost_check_p=0.6,
    fear_shaky_p=0.5,
    rain_ready_p=0.6,
)


FEEL_HAPPY = T("{name} felt happy.", "{name} was very happy.")
FEEL_SAD = T("{name} felt sad.", "{name} was very sad.")


# -- arc: a lost thing is found ---------------------------------------------------------------

LOST_HAVE = T(
    "{He} had {a_adj_obj} that {he} loved very much.",
    "{His} favorite thing in the whole world was {a_adj_obj}.",
    "{name} had {a_adj_obj}. {He} took it everywhere {he} went.",
    "{name} loved {his} {adj_obj}. {He} liked to {use} it every day.",
)
LOST_WARN = T(
    '{His} {parent} always said, "[Keep|Put] your {obj} in a safe place, {name}."',
    "But {name} [often|sometimes] forgot where {he} put {his} things.",
)
LOST_GO = T(
    "{When}, {who} took {his} {adj_obj} {to_place}.",
    "{When}, {who} went {to_place} with {his} {parent} and {his} {adj_obj}.",
    "{When}, {who} [went|walked] {to_place} to {use} {his} {adj_obj}.",
)
LOST_PLAY = T(
    "{He} {use_past} {his} {obj} and [had so much fun|laughed and laughed].",
    "{name} played {at_place} for a long time.",
    "The sun was [warm|bright], and {name} was very happy.",
    "{He} put {his} {obj} down and went to {pact}.",
)
LOST_GONE = T(
    "When it was time to go home, {name} looked for {his} {obj}, but it was [gone|not there]!",
    "After a while, {name} went back for {his} {obj}. It was gone!",
    "But when {he} looked again, {his} {obj} was [gone|not there]!",
    "Then {name} saw that {his} {obj} was missing.",
)
LOST_SAD = T(
    "{name} felt [very|so] sad.",
    "{He} was so sad that {he} began to cry.",
    '"Oh no! Where is my {obj}?" {name} cried.',
    '"My {obj}! I can\'t find my {obj}!" {he} said [with tears in {his} eyes|in a sad voice].',
)
LOST_SAD_2 = T(
    "{He} did not want to go home without it.",
    "It was {his} favorite {obj}, and now it was gone.",
)
LOST_SEARCH = T(
    "{He} looked {spot2}, but it was not there.",
    "{He} looked {spot2} and {spot3}, but {he} could not find it.",
    "{name} looked everywhere. {He} looked {spot2}. {He} looked {spot3}. But the {obj} was "
    "not there.",
)
LOST_BIRD = T(
    '"Have you seen my {obj}?" {name} asked a little bird in a tree. But the bird just sang '
    "and flew away.",
    '{name} asked everyone {he} saw, "Have you seen my {adj_obj}?" But nobody had seen it.',
)
LOST_FRIEND = T("Then {f1} came [over|by].", "Just then, {f1} came along.")
LOST_ASK = T(
    '"What is wrong, {name}?" asked {fname}.',
    '"Why are you sad?" {fname} asked.',
)
LOST_TELL = T('"I lost my {obj}," said {name}.', '"I can\'t find my {adj_obj}," {name} said.')
LOST_OFFER = T(
    '"Don\'t [worry|be sad]. I will help you look," said {fname}.',
    '"Let\'s look for it together!" said {fname}.',
    '{fname} wanted to help. {fHe} said, "We can look together."',
)
LOST_FOUND_F = T(
    "They looked and looked. At last, {fname} found the {obj} {spot}!",
    'They looked together. Then {fname} shouted, "I found it!" The {obj} was {spot}.',
)
LOST_PARENT = T(
    '{name} ran to {his} {parent}. "{Parent}, I lost my {obj}!" {he} said.',
    "{His} {parent} saw that {name} was sad and asked what was wrong.",
)
LOST_FOUND_P = T(
    '"Let\'s look together," said {his} {parent}. They looked, and soon {phe} found the '
    "{obj} {spot}.",
    "{His} {parent} gave {him} a hug and helped {him} look. At last, they found the {obj} {spot}!",
)
LOST_ALONE = T(
    "But {name} did not give up. {He} looked {spot}, and there it was!",
    "Then {name} saw something {oadj} {spot}. It was {his} {obj}!",
)
LOST_THIEF = T(
    "Then {name} heard {thief_sound}. A little {thief} came running with the {obj} in its mouth!",
)
LOST_THIEF_2 = T(
    "The {thief} only wanted to play!",
    "The {thief} dropped the {obj} and wagged its tail. It wanted to play too!",
)
LOST_POCKET = T(
    "Then {name} put {his} hand in {his} pocket. The {obj} was there all along!",
)
LOST_POCKET_2 = T(
    "{name} laughed. {He} looked everywhere, but not in {his} own pocket!",
)
LOST_JOY = T(
    "{name} was so happy!",
    "{name} [jumped|clapped] with joy.",
    "{name} hugged {his} {obj} [tight|close].",
)
LOST_CHECK = T(
    "{name} looked at {his} {obj}. It was [fine|not hurt at all].",
    "{He} held it close and did not let it go.",
    "{name} {use_past} {his} {obj} all the way home.",
)
LOST_THANK = T(
    '"Thank you, {fname}!" said {name}, and gave {fhim} a big hug.',
    "{name} thanked {fname} with a big hug.",
)
LOST_MORAL = T(
    "From that day on, {name} always kept {his} {obj} [safe|close].",
    "{name} learned to take good care of {his} things.",
)
LOST_MORAL_BAD = T(
    "{name} learned to take better care of {his} things.",
    "From then on, {name} always kept {his} things close.",
)
LOST_MORAL_F = T(
    "{name} learned that good friends help each other.",
)
LOST_NEVER = T(
    "{name} looked until it was dark, but the {obj} was nowhere to be found.",
    "{name} and {his} {parent} looked and looked, but they could not find the {obj}.",
)
LOST_NEVER_2 = T(
    "{name} had to go home without {his} {obj}. {He} never saw it again.",
    "{name} went home very sad. The {obj} was gone for good.",
)
LOST_SUM = {
    "friend": T(
        "{name} loses {his} {obj} {at_place}, and {fname} helps {him} find it.",
    ),
    "parent": T(
        "{name} loses {his} {adj_obj} {at_place}, and {his} {parent} helps {him} find it.",
    ),
    "alone": T(
        "{name} loses {his} {obj} {at_place} but keeps looking until {he} finds it.",
    ),
    "thief": T(
        "{name} loses {his} {obj} {at_place} and finds out that a playful {thief} took it.",
    ),
    "pocket": T(
        "{name} looks everywhere for {his} lost {obj}, but it was in {his} pocket all along.",
    ),
    "bad": T(
        "{name} loses {his} {obj} {at_place} and never finds it again.",
    ),
}


# -- arc: learning to share -------------------------------------------------------------------

SHARE_HAVE = T(
    "{name} had {a_adj_obj}. {He} loved it so much that {he} did not want anyone else to touch it.",
    "{He} had a new {obj}. It was {oadj} and [perfect|very special].",
)
SHARE_PLAY = T(
    "{When}, {who} was {use_ing} {his} {adj_obj} {at_place}.",
    "{When}, {who} took {his} {adj_obj} {to_place}.",
)
SHARE_FUN = T(
    "{He} {use_past} {his} {obj} and laughed.",
    "{name} was having so much fun with {his} {obj}.",
)
SHARE_ASK = T(
    '{F1} came over. "Can I play too?" asked {fname}.',
    '"Can I have a turn with your {obj}?" asked {f1}.',
    '{F1} saw the {obj} and smiled. "Can I [play with it|try it] too?" {fhe} asked.',
)
SHARE_NO = T(
    '"No! It is my {obj}," said {name}. "I want it all for myself."',
    '{name} held {his} {obj} [tight|close] and said, "No, it is mine!"',
    'But {name} did not want to share. "Go away," {he} said.',
)
SHARE_HURT = T(
    "{fname} was sad. {fHe} walked away [slowly|and sat down all alone].",
    "{fname_s} face was sad, and {fhe} walked away.",
)
SHARE_ALONE = T(
    "{name} {use_past} {his} {obj}, but it was not fun anymore.",
    "Soon, {name} did not feel happy. Playing alone was not fun.",
    "{name} looked at {fname}. {He} felt a funny feeling in {his} tummy.",
)
SHARE_PARENT = T(
    '{His} {parent} saw what happened. "How would you feel if {fname} did not share with '
    'you?" {phe} asked.',
    '{His} {parent} said, "{name}, toys are more fun when we share them."',
)
SHARE_THINK = T("{name} thought about it.", "{name} thought for a long time.")
SHARE_YES = T(
    '{name} ran to {fname}. "I am sorry. Do you want to play with my {obj}?" {he} asked.',
    '{name} walked over to {fname} and said, "Here, you can have a turn."',
    '{name} gave the {obj} to {fname} and said, "Let\'s play together!"',
)
SHARE_HAPPY = T(
    '{fname} smiled a big smile. "Thank you, {name}!" {fhe} said.',
    "{fname} was so happy, and {fhe} gave {name} a hug.",
)
SHARE_TOGETHER = T(
    "They took turns with the {obj}, and they laughed and laughed.",
    "They played together all afternoon.",
    "Later, {fname} shared {fhis} cookies with {name}.",
)
SHARE_TURNS = T(
    "First {fname} had a turn, and then {name} had a turn.",
    "{fname} {use_past} the {obj}, and {name} clapped and cheered.",
)
SHARE_MORAL = T(
    "{name} learned that sharing [is caring|makes everyone happy].",
    "Playing together was much more fun than playing alone.",
)
SHARE_BAD = T(
    "{fname} went home, and {name} played alone. Soon, the sun went down, and {name} had no "
    "one to play with.",
)
SHARE_BAD_2 = T(
    "The next day, {fname} played with other friends. {name} sat alone with {his} {obj}.",
)
SHARE_SUM = T(
    "{name} does not want to share {his} {obj} with {fname}, but then {he} learns that "
    "playing together is more fun.",
    "At first {name} will not share {his} {adj_obj}, but in the end {he} and {fname} play "
    "with it together.",
)
SHARE_SUM_BAD = T(
    "{name} will not share {his} {obj} with {fname} and ends up playing alone.",
)


# -- arc: a fight and making up ---------------------------------------------------------------

FIGHT_START = T(
    "{When}, {who} and {f1} were playing {at_place}.",
    "{When}, {who} and {f1} went {to_place} to play.",
)
FIGHT_FUN = T(
    "They ran and laughed and had a lot of fun.",
    "At first, they played nicely together.",
)
FIGHT_FIND = T(
    "They found {a_adj_obj} {spot}. Both of them wanted it.",
    "There was {a_adj_obj} {spot}. {name} and {fname} both wanted it.",
)
FIGHT_GRAB = T(
    '"It\'s mine!" said {name}. "No, it\'s mine!" said {fname}.',
    '"Give it to me!" shouted {name}. "No, I had it first!" shouted {fname}.',
)
FIGHT_PULL = T(
    "They pulled and pulled. Then {brk}!",
)
FIGHT_FALL = T(
    "They pulled and pulled, and then they both fell down with a bump.",
)
FIGHT_GAME = T(
    "{name} wanted to play {game1}, but {fname} wanted to play {game2}.",
    '"Let\'s play {game1}!" said {name}. "No, {game2} is more fun!" said {fname}.',
)
FIGHT_ARGUE = T(
    '"Your game is boring!" said {name}. "No, yours is!" said {fname}.',
    "They could not agree, and they started to shout.",
)
FIGHT_APART = T(
    "Both of them were angry. {name} went home, and {fname} went home too.",
    "{name} stomped home. {fname} stayed {at_place}, all alone.",
)
FIGHT_MISS = T(
    "At home, {name} felt sad. {He} missed {his} friend.",
    "That night, {name} could not stop thinking about {fname}.",
    "The next day, {name} did not want to play alone. Playing without {fname} was no fun.",
)
FIGHT_ADVICE = T(
    '{His} {parent} said, "Friends sometimes fight. You can say sorry."',
    '"Why don\'t you talk to {fname}?" said {his} {parent}.',
)
FIGHT_SORRY = T(
    '{name} went to {fname_s} house. "I am sorry," {he} said.',
    '{name} found {fname} and said, "I am sorry. I was not nice."',
)
FIGHT_SORRY_2 = T(
    '"I am sorry too," said {fname}.',
    '{fname} smiled. "Me too. I missed you," {fhe} said.',
)
FIGHT_FIX = T("Together, they {fix_past}.", "They {fix_past} together, and it was as good as new.")
FIGHT_SHARE = T("They took turns with the {obj}.", "They decided to share the {obj}.")
FIGHT_BOTH = T(
    "They played {game1} first, and then they played {game2}.",
    "First they played {game1}, and then {game2}. Both games were fun!",
)
FIGHT_END = T("They were best friends again.", "{name} and {fname} were friends again.")
FIGHT_MORAL = T(
    "{name} and {fname} learned that it is better to share than to fight.",
    "They learned that saying sorry can make things better.",
)
FIGHT_SUM_OBJ = T(
    "{name} and {fname} fight over {a_obj}, but they say sorry and become friends again.",
)
FIGHT_SUM_GAME = T(
    "{name} and {fname} argue about which game to play, then say sorry and take turns.",
)


# -- arc: a fear overcome ---------------------------------------------------------------------

FEAR_IS = T(
    "{name} was scared of {fear}.",
    "There was one thing {name} did not like: {fear}.",
    "{name} was brave about many things, but {he} was scared of {fear}.",
)
FEAR_WONT = T("{He} did not want to {fear_do}.", "{He} never wanted to {fear_do}.")
FEAR_SHAKY = T(
    "{name} wanted to be brave, but {he} felt small and shaky inside.",
    "Every time {he} thought about it, {his} tummy felt funny.",
)
FEAR_NO = T(
    '"No, I can\'t do it," said {name}, and {he} stepped back.',
    '{name} shook {his} head. "Not today," {he} said.',
)
FEAR_WAIT = T(
    '"That\'s okay. We can wait until you are ready," said {helper}.',
    "{Helper} did not push. {hHe} just waited with {him}.",
)
FEAR_HELP = T(
    '"Don\'t be scared," said {helper}. "I will be right here."',
    '{Helper} held {his} hand. "We can do it together," {hhe} said.',
    '"You are braver than you think," said {helper}.',
)
FEAR_HELP_LATER = T(
    'After a while, {helper} held out {hhis} hand. "Shall we try together?" {hhe} asked.',
)
FEAR_TRY = T(
    "{name} took a deep breath.",
    "{name} closed {his} eyes and counted to three.",
    "{name} was still a little scared, but {he} wanted to try.",
)
FEAR_DO = T("Slowly, {he} {fear_did}.", "Then {name} {fear_did}.")
FEAR_AFTER = T(
    '"I am not scared anymore!" {name} said.',
    '{name} smiled. "That was not so bad!" {he} said.',
)
FEAR_PROUD = T(
    "{name} felt very proud.",
    '{Helper} gave {him} a big hug. "I am so proud of you," {hhe} said.',
)
FEAR_MORAL = T(
    "From that day on, {name} was not scared of {fear} anymore.",
    "{name} learned that being brave is not about not being scared. It is about trying.",
    "{name} learned that things are not so scary when you face them.",
)
FEAR_SUM = T(
    "{name} is scared of {fear}, but with help from {helper}, {he} finds the courage to {fear_do}.",
)


# -- arc: helping someone in need -------------------------------------------------------------

HELP_SEE = T(
    "{When}, {who} was {pact_ing} {at_place} when {he} saw {need}.",
    "{When}, {who} went {to_place}. There, {he} saw {need}.",
)
HELP_LOOK = T("{name} [stopped|went closer] to look.", "{name} stopped and looked closer.")
HELP_FEEL = T(
    '"Don\'t worry, I will help you," {name} said.',
    "{name} wanted to help.",
)
HELP_FEEL_IT = T("{name} felt sorry for it.", '"Poor little thing," said {name}.')
HELP_THINK = T(
    "{name} thought about what to do.",
    "{name} knew {he} had to do something.",
)
HELP_WARM = T(
    "{name} felt warm and happy inside.",
    "Helping made {name} feel [good|proud].",
)
HELP_TELL = T(
    'That night, {name} told {his} {parent} all about it. "I am proud of you," said {his} '
    "{parent}.",
    "When {name} got home, {he} told {his} {parent} what happened, and {phe} gave {him} a big hug.",
)
HELP_MORAL = T(
    "{name} learned that helping others makes everyone happy.",
    "{name} learned that even a little help can make a big difference.",
)


# -- arc: something broken is fixed -----------------------------------------------------------

BROKEN_HAVE = T(
    "{name} had {a_adj_obj}. It was {his} favorite thing.",
    "{He} loved {his} {adj_obj} more than anything.",
)
BROKEN_WARN = T(
    '"Be [careful|gentle] with your {obj}," {his} {parent} [said|always said].',
)
BROKEN_PLAY = T(
    "{When}, {who} was {use_ing} {his} {adj_obj} {at_place}.",
    "{When}, {who} took {his} {adj_obj} {to_place}.",
)
BROKEN_FUN = T(
    "{He} was having so much fun.",
    "{name} {use_past} {his} {obj} again and again.",
)
BROKEN_HOW = T(
    "{He} was not careful, and the {obj} fell on the ground. Oh no! {Brk}.",
    "Then {name} tripped over a rock and fell. Oh no! {Brk}.",
    "{name} played too rough, and {brk}.",
)
BROKEN_SAD = T(
    '"Oh no! My {obj}!" cried {name}.',
    "{name} began to cry. {His} {obj} was broken.",
    "{name} sat down and looked at {his} broken {obj}. {He} felt very sad.",
)
BROKEN_HELP = T(
    "{name} ran to {his} {parent} with the broken {obj}.",
    "{His} {parent} came to see what was wrong.",
)
BROKEN_CALM = T(
    '"Don\'t cry. I think we can fix it," said {his} {parent}.',
    '{His} {parent} looked at the {obj} and smiled. "We can fix this," {phe} said.',
)
BROKEN_FIX = T(
    "Together, they {fix_past}.",
    "{His} {parent} worked slowly and {fix_past}.",
    "{pHe} showed {name} how to help, and they {fix_past}.",
)
BROKEN_OK = T(
    "Soon, the {obj} was as good as new!",
    "The {obj} looked a little different now, but {name} loved it even more.",
)
BROKEN_THANK = T(
    '"Thank you, {Parent}!" said {name}, and gave {phim} a big hug.',
    '{name} hugged {his} {parent}. "You are the best!" {he} said.',
)
BROKEN_AGAIN = T(
    "{name} {use_past} {his} {obj} again, and this time {he} was very careful.",
    "From then on, {name} was always gentle with {his} {obj}.",
)
BROKEN_MORAL = T(
    "{name} learned to be more careful with {his} things.",
    "{name} learned that broken things can often be fixed with a little help.",
)
BROKEN_BAD = T(
    "{His} {parent} tried to fix it, but the {obj} could not be fixed.",
)
BROKEN_BAD_2 = T(
    "{name} was sad for a long time. {He} wished {he} had been more careful.",
)
BROKEN_SUM = T(
    "{name} breaks {his} {obj} while playing, and {his} {parent} helps {him} fix it.",
    "When {name_s} {adj_obj} breaks, {he} and {his} {parent} fix it together.",
)
BROKEN_SUM_BAD = T(
    "{name} breaks {his} {obj}, and it cannot be fixed.",
)


# -- arc: the weather spoils a plan -----------------------------------------------------------

RAIN_PLAN = T(
    '{When}, {who} heard {his} {parent} say, "Tomorrow, we will go {to_place} for a picnic!"',
    "{When}, {who} and {his} {parent} made a plan to go {to_place} the next day.",
)
RAIN_EXCITED = T(
    "{name} was so excited. {He} wanted to {pact}.",
    "That night, {name} could not sleep. {He} kept thinking about the fun day {at_place}.",
    "{name} got {his} {obj} ready. {He} wanted to take it with {him}.",
)
RAIN_READY = T(
    "{He} helped {his} {parent} make sandwiches for the picnic.",
    "{He} put {his} {adj_obj} by the door, ready to go.",
)
RAIN_OMEN = T(
    "Before bed, {name} saw dark clouds in the sky.",
    "The wind was getting cold, and the sky was gray.",
)
RAIN_COMES = T(
    "But the next morning, it was raining!",
    "The next morning, {name} looked out the window. Big gray clouds covered the sky, and "
    "rain was falling.",
    "But in the morning, a big storm came. The wind blew, and the rain came down hard.",
)
RAIN_SAD = T(
    '"Oh no! Now we can\'t go," said {name}, and {he} felt very sad.',
    "{name} sat by the window with a sad face.",
    "{name} was so sad that {he} almost cried.",
)
RAIN_WATCH = T(
    "{He} put {his} nose on the window and watched the rain fall.",
    "Drip, drop, drip. The rain did not stop.",
)
RAIN_IDEA = T(
    'Then {his} {parent} had an idea. "Let\'s {fun}!" {phe} said.',
    '"I know!" said {his} {parent}. "We can {fun}!"',
)
RAIN_FUN = T(
    "{name} laughed and laughed. It was so much fun!",
    "It was a different day than {name} had planned, but it was a very happy one.",
)
RAIN_RAINBOW = T(
    "Later, the rain stopped, and a big rainbow came out.",
    "In the afternoon, the sun came out, and there was a rainbow in the sky!",
)
RAIN_AFTER = T(
    "The next day, the sun was shining, and they went {to_place} after all.",
)
RAIN_MORAL = T(
    "{name} learned that even a rainy day can be fun.",
    "{name} learned that when plans change, you can still have fun.",
)
RAIN_BAD = T(
    "The rain did not stop all day. {name} stayed inside and looked at the gray sky.",
)
RAIN_BAD_2 = T(
    "{He} never got to go {to_place} that week, and {he} was very sad.",
)
RAIN_SUM = T(
    "{name} wants to go {to_place}, but it rains, so {he} and {his} {parent} find another "
    "fun thing to do.",
)
RAIN_SUM_BAD = T(
    "Rain spoils {name_s} plan to go {to_place}, and {he} stays home sad.",
)


# -- arc: learning a skill --------------------------------------------------------------------

SKILL_WANT = T(
    "{name} wanted to learn to {skill}.",
    "{name} wanted to {skill} more than anything.",
)
SKILL_SEE = T(
    "{When}, {who} watched {helper} {skill}. {He} wanted to {skill} too.",
    '{When}, {who} told {helper}, "I want to learn to {skill}!"',
)
SKILL_TRY = T(
    "{He} tried to {skill}, but it was hard.",
    "The first time {he} tried, it did not go well.",
)
SKILL_SAD = T(
    '"I can\'t do it!" {name} cried.',
    "{name} felt like giving up.",
    '"I will never learn to {skill}," {name} said with a sad face.',
)
SKILL_SAD_2 = T(
    "{He} sat down and looked at the ground.",
    "{He} wanted to stop and go home.",
)
SKILL_CHEER = T(
    '"Don\'t give up," said {helper}. "Everyone needs to try many times."',
    '{Helper} sat down next to {him}. "Let\'s try again together," {hhe} said.',
)
SKILL_PRACTICE = T(
    "Every day, {name} practiced.",
    "{He} tried again and again.",
    "{name} practiced in the morning and in the afternoon.",
)
SKILL_DAY2 = T(
    "The next day, {he} tried again. It was a little better, but not quite right.",
    "Some days were hard, and some days were better.",
)
SKILL_AGAIN = T(
    "{He} made mistakes, but {he} did not stop.", "It was still hard, but {he} kept trying."
)
SKILL_WIN = T("At last, {he} did it!", "Then one day, {name} did it!")
SKILL_JOY = T(
    '"I did it! I can {skill}!" {name} shouted.',
    "{Helper} clapped and cheered.",
)
SKILL_SMILE = T(
    "{name} could not stop smiling.",
    "{name} felt so proud. {He} wanted to do it again and again.",
)
SKILL_MORAL = T(
    "{name} learned that if you keep trying, you can do hard things.",
    "{name} learned to never give up.",
)
SKILL_SUM = T(
    "{name} wants to learn to {skill} and keeps trying, even when it is hard, until {he} can "
    "do it.",
)


# -- arc: a gift, or a surprise party ---------------------------------------------------------

GIFT_KNOW = T(
    "{When}, {who} remembered that it was {r_s} birthday.",
    "{When}, {who} found out that {r_s} birthday was the next day.",
)
GIFT_WANT = T(
    "{He} wanted to give {rhim} a special present.",
    "{name} wanted to make {rhim} happy, but {he} did not have any money.",
)
GIFT_WONDER = T(
    '"What can I give {rhim}?" {name} wondered.',
    "{He} looked at all {his} toys, but none of them felt right.",
)
GIFT_IDEA = T("Then {he} had an idea!", "{name} thought and thought. Then {he} had an idea!")
GIFT_WORK = T(
    "{He} worked very hard on it.",
    "It took a long time, but {name} did not stop until it was perfect.",
)
GIFT_HIDE = T("{He} hid the {gift} behind {his} back.", "{He} kept the {gift} a secret all day.")
GIFT_GIVE = T(
    '"Happy birthday!" said {name}, and gave {rhim} the {gift}.',
    '{name} gave the {gift} to {rhim}. "This is for you," {he} said.',
)
GIFT_REACT = T(
    '{Rname} smiled a big smile. "This is the best present ever!" {rhe} said.',
    '{Rname} gave {name} a big hug. "Thank you! I love {gift_it}," {rhe} said.',
)
GIFT_BEST = T(
    "{Rname} said it was the best birthday ever.",
    "{Rname} kept the {gift} in a special place.",
)
GIFT_AFTER = T(
    "{name} felt so happy that {he} could not stop smiling.",
    "That day, {name} felt happier than if {he} got a present {self}.",
)
GIFT_MORAL = T(
    "{name} learned that the best presents come from the heart.",
    "Giving made {name} feel warm inside.",
)
GIFT_SUM = T(
    "{name} makes a present for {rname_sum} for {rhis} birthday, and {rhe} loves {gift_it}.",
)

PARTY_SAD = T(
    "{When}, it was {name_s} birthday. But nobody said anything about it.",
    "{When}, {who} woke up. It was {his} birthday, but the house was quiet.",
)
PARTY_SAD_2 = T(
    "{His} {parent} did not say happy birthday. {F1} did not come to play.",
    '"Did everyone forget?" {name} asked in a small voice.',
)
PARTY_ASK = T(
    'In the afternoon, {his} {parent} said, "Come with me {to_place}."',
)
PARTY_SURPRISE = T(
    'When they got there, everyone jumped out and shouted, "Surprise!"',
)
PARTY_THERE = T(
    "All of {his} friends were there, and {f1} was there too. There was a big cake with candles.",
)
PARTY_JOY = T(
    '"You did not forget!" said {name}. It was the best birthday ever.',
    "{name} laughed and clapped. They ate cake and played games until the sun went down.",
)
PARTY_SUM = T(
    "{name} thinks everyone forgot {his} birthday, but they were planning a surprise party.",
)


def gift_keys(c: dict[str, str], gift: Gift, to_friend: bool) -> None:
    """The gift, and who receives it (the friend, or the grown-up), in every form."""
    if to_friend:
        c.update(
            rname=c["fname"],
            Rname=c["fname"],
            rhim=c["fhim"],
            rhe=c["fhe"],
            rhis=c["fhis"],
            r_s=c["fname_s"],
            rname_sum=c["fname"],
        )
    else:
        rn = f"{c['his']} {c['parent']}"
        c.update(
            rname=rn,
            Rname=cap(rn),
            rhim=c["phim"],
            rhe=c["phe"],
            rhis=c["phis"],
            r_s=f"{c['his']} {c['parent_s']}",
            rname_sum=rn,
        )
    c["gift"], c["gift_it"] = gift.noun, gift.it


# -- arc: a mistake and an apology ------------------------------------------------------------

MISTAKE_BAD = T(
    "{name} felt bad inside.",
    "{name_s} tummy felt funny. {He} knew {he} did something wrong.",
)
MISTAKE_WORRY = T(
    "{He} was scared that {his} {parent} would be angry.",
    "{name} did not know what to do.",
)
MISTAKE_ASK = T(
    'Later, {his} {parent} asked, "Who did this?"',
)
MISTAKE_LIE = T('"Not me!" said {name}.', '{name} said, "I don\'t know."')
MISTAKE_GUILT = T(
    "But that night, {name} could not sleep. {He} felt bad about the lie.",
    "But {name} did not feel good. A lie is heavy to carry.",
)
MISTAKE_TELL = T(
    '{name} went to {his} {parent} and said, "I am sorry. I did it."',
    '{name} took a deep breath. "I did it, and I am sorry," {he} said.',
)
MISTAKE_TELL_F = T(
    '{name} told {his} {parent} what {he} did. "You need to give it back and say sorry," '
    "said {his} {parent}.",
    "{name} knew what to do. {He} had to give it back and say sorry.",
)
MISTAKE_FORGIVE = T(
    '{His} {parent} gave {him} a hug. "Thank you for telling me the truth," {phe} said.',
    '{His} {parent} smiled. "Everyone makes mistakes. I am glad you told me," {phe} said.',
)
MISTAKE_MORAL = T(
    "{name} learned that it is always best to tell the truth.",
    "{name} learned that saying sorry can make things better.",
)


# -- arc: a warning is ignored (usually a bad ending) -----------------------------------------

WARN_GO = T(
    "{When}, {who} went {to_place} with {his} {parent}.",
    "{When}, {who} and {his} {parent} went {to_place}. {name} took {his} {adj_obj}.",
)
WARN_FUN = T(
    "{name} ran and played, and {he} was very happy.",
    "They had a lot of fun {at_place}.",
)
WARN_HUG = T(
    "{His} {parent} gave {him} a big hug, but {name} was sad for the rest of the day.",
    "That night, {name} did not smile at all.",
)
WARN_RELIEF = T(
    '"I am sorry, {Parent}," said {name}. "I should have listened."',
    "{name} held {his} {parent_s} hand tight. {He} was glad that everything was okay.",
)
WARN_OK = T(
    '"Okay," said {name}. But {he} was not really listening.',
)
WARN_CRY = T("{name} began to cry.", '"Help!" cried {name}.')
WARN_MORAL = T(
    "{name} learned that it is important to listen to {his} {parent}.",
    "{name} wished {he} had listened to {his} {parent}.",
)
WARN_MORAL_OK = T(
    "From then on, {name} always listened to {his} {parent}.",
)


# -- arc: a scary noise that is something else ------------------------------------------------

NOISE_SCARED = T(
    '{name} was scared. "What if it is a monster?" {he} whispered.',
    "{name_s} heart went thump, thump. What could it be?",
)
NOISE_SCARED_IN = T(
    "{name} hid under {his} blanket. {He} thought it was a big bear!",
)
NOISE_AGAIN = T(
    "Then the noise came again, louder this time.",
    "{name} waited. The noise stopped, and then it started again.",
)
NOISE_LOOK = T(
    "{name} took a deep breath and went to look.",
    "{name} got {his} flashlight and went to look, one small step at a time.",
)
NOISE_LOOK_P = T(
    "{name} called {his} {parent}, and they went to look together.",
)
NOISE_LAUGH = T(
    "{name} laughed. It was not a monster at all!",
    "{name} was not scared anymore.",
)
NOISE_WHEN = T(
    "{When}, {name} was [in {his} room|in bed|playing quietly in {his} room].",
    "{When}, everything in the house was quiet.",
)
NOISE_WHEN_OUT = T(
    "{When}, {name} was {pact_ing} {at_place}.", "{When}, {name} went {to_place} to play."
)
NOISE_MORAL = T(
    "After that, {name} was not scared of funny noises anymore.",
    "{name} learned that things are often not as scary as they sound.",
)
NOISE_SUM = T(
    "{name} hears a strange noise and thinks it is a monster, but it is only {noise}.",
)


# -- arc: making a new friend -----------------------------------------------------------------

NEW_MOVE = T(
    "{name} and {his} {parent} moved to a new town.",
    "{name} was new in town. {He} did not have any friends yet.",
)
NEW_LONELY = T("{name} felt lonely.", "Every day, {name} played alone, and {he} felt lonely.")
NEW_GO = T("{When}, {name} went {to_place}.", "{When}, {name} and {his} {parent} went {to_place}.")
NEW_KIDS = T(
    "Many kids were playing there, but {name} did not know any of them.",
    "Everyone was playing with a friend. {name} stood alone.",
)
NEW_SEE = T(
    "There, {he} saw {fnp}. {fHe} was trying to {pact} all alone.",
    "{He} saw {fnp} sitting alone {at_place}.",
)
NEW_SHY = T(
    "{name} wanted to say hello, but {he} was shy.", "{name} was shy. {His} cheeks felt hot."
)
NEW_PUSH = T(
    '{His} {parent} said, "Go on. Just say hello."',
)
NEW_HELLO = T(
    '"Hi, I am {name}," {he} said. "Can I play with you?"',
    '{name} walked over and said, "Hello! Do you want to play?"',
)
NEW_YES = T(
    '{fname} smiled. "Yes! Let\'s {pact} together!" {fhe} said.',
    '"Yes, please!" said {fname}. {fHe} was lonely too.',
)
NEW_PLAY = T(
    "They played together all afternoon.",
    "They {pact_past} together, and then they played tag.",
)
NEW_TALK = T(
    "They talked about their favorite things and laughed a lot.",
    "{fname} showed {name} how to {pact}, and {name} showed {fname} how to {act}.",
)
NEW_END = T("Now {name} had a new friend.", "{name} was not lonely anymore.")
NEW_TWIST = T(
    "The next day, {name} found out that {fname} lived right next door!",
)
NEW_MORAL = T(
    "{name} learned that a smile and a hello can make a new friend.",
)
NEW_SUM = T(
    "{name} feels lonely in a new town until {he} says hello to {fname}, and they become friends.",
)


# -- arc: a race ------------------------------------------------------------------------------

RACE_START = T(
    '{When}, {who} and {f1} were {at_place}. "Let\'s have a race to the {goal}!" said {fname}.',
    "{When}, {who} and {f1} went {to_place}. They wanted to see who could run faster to the "
    "{goal}.",
)
RACE_GO = T(
    '"Ready, set, go!" shouted {fname}, and they ran.',
    "They ran as fast as they could.",
)
RACE_WIND = T(
    "The wind was in their hair, and they laughed as they ran.",
    "Their feet went fast on the path. Run, run, run!",
)
RACE_READY = T(
    "Before the race, they jumped up and down to get ready.",
    "They stood side by side and looked at the {goal}.",
)
RACE_LOSE = T("{fname} got to the {goal} first.", "{fname} was faster and won the race.")
RACE_MAD = T(
    '{name} was angry. "That is not fair!" {he} shouted.',
    '{name} stomped {his} {feet}. "I don\'t want to play anymore!" {he} said.',
)
RACE_KIND = T(
    "{fname} said, \"It's just a game. Let's play again!\"",
    '{His} {parent} said, "Winning is not the most important thing. Playing together is."',
)
RACE_SORRY = T("{name} said sorry to {fname}.", "{name} felt bad and said sorry.")
RACE_AGAIN = T(
    "They raced again, and this time they laughed all the way.",
)
RACE_LEAD = T(
    "{name} was in front. {He} was going to win!",
)
RACE_FALL = T(
    "But then {he} heard a cry. {fname} had fallen down and hurt {fhis} knee.",
)
RACE_STOP = T(
    "{name} stopped and ran back to help {fhim}.",
)
RACE_TOGETHER = T(
    "They walked to the {goal} together, hand in hand.",
)
RACE_WHY = T(
    '"You could have won," said {fname}. "Helping you is more important," said {name}.',
)
RACE_MORAL = T(
    "{name} learned that having fun with friends is more important than winning.",
    "{name} learned that being kind is better than winning.",
)
RACE_SUM_LOSE = T(
    "{name} loses a race to {fname} and gets angry, but learns that playing "
    "together matters more than winning.",
)
RACE_SUM_HELP = T(
    "{name} is winning a race, but stops to help {fname} when {fhe} falls.",
)


# -- arc: a mysterious egg --------------------------------------------------------------------

EGG_FIND = T(
    "{When}, {who} found a big white egg {spot} {at_place}.",
    "{When}, {who} was {pact_ing} {at_place} when {he} saw an egg {spot}.",
)
EGG_WONDER = T('"What is inside?" {name} wondered.', "{name} did not know what kind of egg it was.")
EGG_ASK = T(
    '"Whose egg is this?" {name} asked {his} {parent}. "Let\'s wait and see," said {his} {parent}.',
    '{name} showed the egg to {his} {parent}. "We must keep it warm," said {his} {parent}.',
)
EGG_CARE = T(
    "{He} took it home and kept it warm in a soft blanket.",
    "{name} and {his} {parent} put the egg in a little box with a warm blanket.",
)
EGG_WAIT = T("Every day, {name} looked at the egg.", "{name} waited and waited.")
EGG_SHAKE = T("The egg was wiggling a little.", "Sometimes, {name} could hear a tiny tap inside.")
EGG_HATCH = T(
    "Then one morning, the egg began to shake. Crack! Out came a little {baby}!",
)
EGG_MOM = T(
    "The little {baby} looked at {name} and thought {he} was its mom!",
    "The {baby} followed {name} everywhere, as if {name} was its mom!",
)
EGG_GROW = T(
    "Every day, the {baby} grew a little bigger.",
    "{name} fed the {baby} and played with it every day.",
)
EGG_END = T(
    "{name} took good care of the {baby} until it was big and strong.",
    "When it was big enough, {name} took the {baby} back {to_place} to find its family.",
)
EGG_SUM = T(
    "{name} finds an egg {at_place}, keeps it warm, and a little {baby} comes out.",
)


# -- cast, context and story ------------------------------------------------------------------


def _pronoun_keys(prefix: str, gender: str) -> dict[str, str]:
    p = PRONOUNS[gender]
    return {
        f"{prefix}he": p.he,
        f"{prefix}He": cap(p.he),
        f"{prefix}him": p.him,
        f"{prefix}his": p.his,
        f"{prefix}His": cap(p.his),
        f"{prefix}self": p.self,
    }


# Everything that does not depend on the story is computed once, here: generation speed is
# dominated by per-story work, and most of that is choosing among precomputed strings.
_PRON = {(pre, g): _pronoun_keys(pre, g) for pre in ("", "f", "p") for g in "fm"}
_PARENT_KEYS = tuple(
    {"parent": p, "Parent": pn, "parent_s": PARENT_POSS[p], **_PRON[("p", pg)]}
    for p, (pn, pg) in PARENTS.items()
)


def _np_options(kind: str) -> tuple[str, ...]:
    """Every "a curious little girl" phrase for a kind, article included."""
    k = KINDS[kind]
    out: list[str] = []
    if k.animal:
        for adj in ANIMAL_ADJS:
            for color in k.colors:
                out += [
                    f"little {kind}",
                    f"{adj} little {kind}",
                    f"little {color} {kind}",
                    f"{color} {kind}",
                    f"{adj} {kind}",
                ]
    else:
        for adj in KID_ADJS:
            out += [f"little {kind}", f"{adj} little {kind}", f"{adj} {kind}", kind]
    return tuple(a(x) for x in out)


_NP_RICH = {k: _np_options(k) for k in KINDS}
_NP_PLAIN = {k: a(k) for k in KINDS}
_NAMED = ("named",) * 6 + ("called",)
_ACTS_FOR = {k: v.acts + ANY_ACTS for k, v in KINDS.items()}


def _thing_keys(t: Thing) -> tuple[dict[str, str], ...]:
    out = []
    for oadj in t.adjs:
        for use in t.uses:
            d = {
                "obj": t.noun,
                "oadj": oadj,
                "adj_obj": f"{oadj} {t.noun}",
                "a_obj": t.a_noun,
                "a_adj_obj": a(f"{oadj} {t.noun}"),
                "small": "yes" if t.small else "",
                "use": use.base,
                "use_past": use.past,
                "use_ing": use.ing,
                "brk": "",
            }
            out.append(d)
    return tuple(out)


def _place_keys(p: Place) -> tuple[dict[str, str], ...]:
    out = []
    for s1, s2, s3 in itertools.permutations(p.spots, 3):
        for v in p.acts:
            out.append(
                {
                    "place": p.noun,
                    "the_place": p.the,
                    "at_place": p.at,
                    "to_place": p.to,
                    "spot": s1,
                    "spot2": s2,
                    "spot3": s3,
                    "pact": v.base,
                    "pact_past": v.past,
                    "pact_ing": v.ing,
                }
            )
    return tuple(out)


_THING_KEYS = {t.noun: _thing_keys(t) for t in THINGS}
_PLACE_KEYS = {p.noun: _place_keys(p) for p in PLACES}
_THINGS_BY = {
    "any": tuple(t.noun for t in THINGS),
    "breaks": tuple(t.noun for t in THINGS if t.breaks),
    "floats": tuple(t.noun for t in THINGS if t.floats),
    "flies": tuple(t.noun for t in THINGS if t.flies),
}
_WATER = tuple(p.noun for p in PLACES if p.water)
_KIDS = ("girl", "boy")
_FEARS_FOR = {
    k: tuple(f for f in S.FEARS if k not in f.not_kinds and (not f.kids_only or k in _KIDS))
    for k in KINDS
}
_SKILLS_FOR = {
    k: tuple(s for s in S.SKILLS if ("kid" if k in _KIDS else k) in s.kinds)
    # an animal with no fitting skill learns one of the things all kids learn
    or tuple(s for s in S.SKILLS if "kid" in s.kinds)
    for k in KINDS
}


def _vp_keys(prefix: str, v: VerbPhrase, ctx: dict[str, str]) -> dict[str, str]:
    if "{" not in v.base:
        return {prefix: v.base, f"{prefix}_past": v.past, f"{prefix}_ing": v.ing}
    base = v.base.format_map(ctx)  # "tie {his} shoes"
    head, _, rest = base.partition(" ")
    tail = f" {rest}" if rest else ""
    return {prefix: base, f"{prefix}_past": past(head) + tail, f"{prefix}_ing": ing(head) + tail}


def _character(r: Callable[[], float], animal: bool, avoid: str) -> tuple[str, str, str]:
    """(kind, gender, name) for a new character whose name differs from ``avoid``."""
    while True:
        if animal:
            kind = pick(r, ANIMAL_KINDS)
            name, g = pick_name(r, PET_NAMES)
            gender = g or ("f" if r() < 0.5 else "m")
        elif r() < 0.5:
            kind, gender, name = "girl", "f", pick_name(r, GIRL_NAMES)
        else:
            kind, gender, name = "boy", "m", pick_name(r, BOY_NAMES)
        if name != avoid:
            return kind, gender, name


def _context(rng: random.Random, arc: str) -> tuple[dict[str, str], dict[str, str]]:
    r = rng.random
    hero_animal = r() < 0.35
    kind, g, name = _character(r, hero_animal, "")
    fkind, fg, fname = _character(r, r() < (0.65 if hero_animal else 0.2), name)
    np = f"{pick(r, _NP_RICH[kind])} {pick(r, _NAMED)} {name}"
    fnp = f"{pick(r, _NP_RICH[fkind]) if r() < 0.5 else _NP_PLAIN[fkind]} {pick(r, _NAMED)} "
    fnp += fname
    ctx: dict[str, str] = {
        "name": name,
        "name_s": POSSESSIVE[name],
        "kind": kind,
        "kkey": kind,  # the kind's key ("girl"), as in every language
        "who": name,
        "np": np,
        "Np": cap(np),
        "feet": _FEET.get(kind, "feet"),
        "home": pick(r, KINDS[kind].homes),
        "fname": fname,
        "fname_s": POSSESSIVE[fname],
        "fkind": fkind,
        "fnp": fnp,
        "When": pick(r, WHEN),
        "food": pick(r, FOODS),
        "color": pick(r, COLORS),
    }
    ctx.update(_PRON[("", g)])
    ctx.update(_PRON[("f", fg)])
    parent = pick(r, _PARENT_KEYS)
    ctx.update(parent)
    if r() < 0.5:
        f1 = fnp
    elif fkind in _KIDS:
        f1 = f"{ctx['his']} friend {fname}"
    else:
        f1 = f"{ctx['his']} friend {fname} the {fkind}"
    ctx["f1"], ctx["F1"] = f1, cap(f1)

    things = _THINGS_BY["breaks" if arc == "broken" else "any"]
    _set_thing(r, ctx, pick(r, things))
    ctx.update(pick(r, _PLACE_KEYS[pick(r, _PLACE_NOUNS)]))
    ctx.update(_vp_keys("act", pick(r, _ACTS_FOR[kind]), ctx))
    thief = THIEVES[1] if kind in ("dog", "puppy") else THIEVES[0]
    ctx["thief"], ctx["thief_sound"] = thief
    g1 = pick(r, S.GAMES)
    g2 = pick(r, [x for x in S.GAMES if x != g1])
    ctx.update(game1=g1, game2=g2, goal=pick(r, S.RACE_GOALS))
    cast = {name: g, fname: fg, ctx["parent"]: "f" if ctx["phe"] == "she" else "m"}
    return ctx, cast


_PLACE_NOUNS = tuple(p.noun for p in PLACES)
_THING_BY_NOUN = {t.noun: t for t in THINGS}


def _set_thing(r: Callable[[], float], ctx: dict[str, str], noun: str) -> None:
    ctx.update(pick(r, _THING_KEYS[noun]))
    t = _THING_BY_NOUN[noun]
    if t.breaks:
        brk, fix = pick(r, t.breaks)
        ctx.update(brk=brk, Brk=cap(brk), fix=fix.base, fix_past=fix.past)


def _fit_scene(rng: random.Random, arc: str, ctx: dict[str, str]) -> object:
    """Pick the arc's situation and adjust the context to it (place, thing...)."""
    r = rng.random
    kind = ctx["kind"]
    scene: object = None
    if arc == "fear":
        fear = pick(r, _FEARS_FOR[kind])
        ctx["fear"] = fear.what
        ctx.update(_vp_keys("fear_do", fear.do, ctx))
        ctx["fear_did"] = ctx["fear_do_past"]
        if fear.places:
            ctx.update(pick(r, _PLACE_KEYS[pick(r, fear.places)]))
        scene = fear
    elif arc == "help":
        scene = pick(r, S.NEEDS)
    elif arc == "skill":
        skill = pick(r, _SKILLS_FOR[kind])
        ctx.update(_vp_keys("skill", skill.do, ctx))
        scene = skill
    elif arc == "gift":
        gift = pick(r, S.GIFTS)
        if gift.places:
            ctx.update(pick(r, _PLACE_KEYS[pick(r, gift.places)]))
        scene = gift
    elif arc == "mistake":
        scene = pick(r, S.MISTAKES)
    elif arc == "warning":
        hz = pick(r, S.HAZARDS)
        if hz.needs == "water":
            ctx.update(pick(r, _PLACE_KEYS[pick(r, _WATER)]))
            _set_thing(r, ctx, pick(r, _THINGS_BY["floats"]))
        elif hz.needs == "wind":
            _set_thing(r, ctx, pick(r, _THINGS_BY["flies"]))
        if hz.places:
            ctx.update(pick(r, _PLACE_KEYS[pick(r, hz.places)]))
        scene = hz
    elif arc == "noise":
        nz = pick(r, S.NOISES)
        ctx["When"] = nz.when
        if nz.places:
            ctx.update(pick(r, _PLACE_KEYS[pick(r, nz.places)]))
        scene = nz
    return scene


# Candidate Words: per arc (nouns, verb lemmas, adjectives), tried after the story's own thing,
# place and activities.  Only candidates found in the text are used, so the field is true.
_ARC_WORDS: dict[str, tuple[str, str, str]] = {
    "lost": ("", "find lose look cry help", "sad happy"),
    "share": ("turn", "share play give smile", "sad happy fun"),
    "fight": ("game", "pull shout miss", "angry sad"),
    "fear": ("dark slide water thunder dog tree bees waves", "try hold", "scared brave proud"),
    "help": ("bird kitten apples glasses duckling ant knee", "help carry pick", "kind happy"),
    "broken": ("", "fix break cry", "broken sad careful"),
    "rain": ("rain picnic rainbow window", "plan jump bake build paint", "sad excited"),
    "skill": ("", "try practice learn", "hard proud"),
    "gift": ("birthday present", "give make draw bake pick", "special happy"),
    "mistake": ("cookies vase wall mud crayons", "tell eat hide clean", "sorry bad"),
    "warning": ("water wind tree candy bees", "listen climb eat fall", "sad"),
    "noise": ("noise night kitten mouse window", "hear look laugh", "scared"),
    "newfriend": ("friend town", "play say smile", "lonely shy new"),
    "race": ("race", "race run win", "fast angry"),
    "egg": ("egg", "keep wait look", "warm little"),
}
_FORMS: dict[str, tuple[str, ...]] = {}  # word -> inflected forms that count as the word


def _has(text: str, forms: tuple[str, ...]) -> bool:
    """Whether one of ``forms`` occurs in lower-cased ``text`` as a whole word."""
    for f in forms:
        i = text.find(f)
        while i >= 0:
            j = i + len(f)
            if (i == 0 or not text[i - 1].isalpha()) and (j == len(text) or not text[j].isalpha()):
                return True
            i = text.find(f, j)
    return False


def _noun_forms(noun: str) -> tuple[str, ...]:
    forms = _FORMS.get(noun)
    if forms is None:
        forms = _FORMS[noun] = (noun, plural(noun))
    return forms


def _verb_forms(lemma: str) -> tuple[str, ...]:
    forms = _FORMS.get("~" + lemma)
    if forms is None:
        forms = _FORMS["~" + lemma] = (lemma, past(lemma), ing(lemma), third(lemma))
    return forms


def _rotated(r: Callable[[], float], items: list[str]) -> list[str]:
    """``items`` from a random starting point: a cheap stand-in for a shuffle."""
    i = int(r() * len(items))
    return items[i:] + items[:i]


# Adjectives common enough that one of them is in (practically) every story.
_FALLBACK_ADJS = [
    *words(
        "happy sad little big good new best warm sunny bright funny brave kind scared proud "
        "long soft loud deep tall quiet fun small strange wet cold lost hungry tiny scary dark "
        "shiny pretty sweet bad lonely shy angry excited careful gentle safe special perfect "
        "different hard wrong late clean muddy empty cozy gray white yellow blue green red "
        "brown black old"
    ),
    *KID_ADJS,
    *ANIMAL_ADJS,
    *COLORS,
]


def _pick_words(
    rng: random.Random, arc: str, ctx: dict[str, str], text: str
) -> tuple[str, str, str]:
    r = rng.random
    low = text.lower()
    nouns_arc, verbs_arc, adjs_arc = _ARC_WORDS[arc]
    obj = ctx["obj"].rsplit(" ", 1)[-1]
    nouns = [obj] if r() < 0.6 else []
    nouns += _rotated(r, [obj, ctx["place"], ctx["kind"], *nouns_arc.split()])
    nouns += ["friend", "day", "home", "house", "sun", ctx["fkind"], ctx["parent"]]
    noun = next((n for n in nouns if _has(low, _noun_forms(n))), "day")
    heads = [
        ctx[k].split(" ", 1)[0] for k in ("use", "pact", "act", "skill", "fear_do") if k in ctx
    ]
    verbs = _rotated(r, [*heads, *verbs_arc.split()])
    verbs += ["play", "go", "see", "say"]
    verb = next((v for v in verbs if _has(low, _verb_forms(v))), "be")
    adjs = [ctx["oadj"]] if r() < 0.4 else []
    adjs += _rotated(r, [ctx["oadj"], *adjs_arc.split()])
    adjs += _FALLBACK_ADJS
    adj = next((x for x in adjs if _has(low, (x,))), "")
    return noun, verb, adj


# Lemmas the Words: field may print although the story only has another form ("found").
EN.extra(v for _, vs, _ in _ARC_WORDS.values() for v in vs.split())
EN.extra(("play", "go", "see", "say", "be"))


def compose(rng: random.Random) -> tuple[Draft, str, tuple[str, str, str]]:
    """Write one English story.  Returns the draft, its text, and the Words: triple."""
    arc = arcs.choose(rng)
    ctx, cast = _context(rng, arc)
    scene = _fit_scene(rng, arc, ctx)
    detail = 0.45 + 0.9 * rng.random()
    d = arcs.tell(Builder(rng, ctx, arc, detail, scene), _LANGUAGE)
    d.cast = {**cast, **d.cast}  # hero first
    text = "\n".join(" ".join(p) for p in d.paras)
    noun, verb, adj = _pick_words(rng, arc, ctx, text)
    if not adj:
        # A rare story with no adjective at all: close it with a feeling, so that the Words:
        # field can name an adjective that is really in the text.
        sad = "BadEnding" in d.flags
        d.paras[-1].append(pick(rng.random, FEEL_SAD if sad else FEEL_HAPPY).format_map(ctx))
        text = "\n".join(" ".join(p) for p in d.paras)
        adj = "sad" if sad else "happy"
    return d, text, (noun, verb, adj)


_LANGUAGE = sys.modules[__name__]  # what the arcs read this language's words from
