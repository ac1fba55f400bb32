"""English situations the story arcs draw from: fears, skills, people in need, gifts, mistakes,
warnings, night noises and rainy-day plans.

Each situation is a small script of template variants that fits one arc step; the arcs in
``arcs`` decide the order and the branching, these tables only supply the matching words.  The
records themselves are declared once, for both languages, in ``scenes``.
"""

from __future__ import annotations

from .grammar_en import VerbPhrase, vp
from .lexicon_en import EN
from .scenes import Fear, Gift, Hazard, Mistake, Need, Noise, Skill

T = EN.t


def _vp(phrase: str, forms: str = "base past") -> VerbPhrase:
    v = vp(phrase)
    for form in forms.split():
        EN.w(getattr(v, form))
    return v


FEARS: tuple[Fear[VerbPhrase], ...] = (
    Fear(
        EN.w("the dark"),
        _vp("sleep with the light off"),
        T(
            "{When}, {who} could not sleep. The room was [dark|very dark] and quiet.",
            "{When}, {who} was in bed, but {he} could not close {his} eyes.",
        ),
        T(
            '"What if there is a monster under my bed?" {name} [asked|whispered].',
            '"I don\'t like the dark. It is too [scary|quiet]," said {name}.',
        ),
        T(
            "There were no monsters. There were only {his} toys and the soft light of the moon.",
            "{He} looked under the bed. There was only an old sock and a little ball!",
        ),
        when=EN.w("One night"),
    ),
    Fear(
        EN.w("the big slide"),
        _vp("go down the big slide"),
        T(
            "{When}, {who} went to the playground with {helper}.",
            "{When}, {who} and {helper} went to the park. There was a big, tall slide.",
        ),
        T('"What if I fall?" asked {name}.', '"It is too high!" said {name}. "I am too little."'),
        T(
            "The slide was fast and fun! {name} laughed all the way down.",
            "{He} went down fast. Whoosh! It was not scary at all. It was fun!",
        ),
        kids_only=True,
    ),
    Fear(
        EN.w("the water"),
        _vp("swim in the water"),
        T(
            "{When}, {who} went {to_place} with {helper}.",
            "{When}, {who} and {helper} went {to_place} to swim.",
        ),
        T(
            '"What if the water is too deep?" asked {name}.',
            '"The water is too big and cold," said {name}.',
        ),
        T(
            "The water was cool and nice. {He} kicked {his} legs and splashed!",
            "{He} put {his} feet in first. The water was not scary. It was fun!",
        ),
        places=("beach", "lake", "pond", "river"),
        not_kinds=("duck", "frog"),
    ),
    Fear(
        EN.w("thunder"),
        _vp("sleep in {his} own bed"),
        T(
            "{When}, a big storm came. Boom! The thunder was very loud.",
            "{When}, {who} heard a loud boom. It was thunder!",
        ),
        T(
            '"Is the sky angry?" {name} asked [in a small voice|with big eyes].',
            '"The noise is too loud! I am scared," cried {name}.',
        ),
        T(
            "The thunder was loud, but it could not hurt {him}. Soon, the storm went away.",
            "They counted the booms together. Soon, the thunder was far away and quiet.",
        ),
        when=EN.w("One night"),
    ),
    Fear(
        EN.w("the big dog next door"),
        _vp("walk past the big dog"),
        T(
            "{When}, {who} had to walk past the house next door with {helper}.",
            "{When}, {who} saw the big dog by the fence.",
        ),
        T(
            '"What if it bites me?" asked {name}.',
            '"It is so big, and it barks so loud!" said {name}.',
        ),
        T(
            "The big dog just wanted to play! It wagged its tail and licked {his} hand.",
            "The dog was not mean at all. It rolled over and wanted a belly rub!",
        ),
        twist=True,
    ),
    Fear(
        EN.w("high places"),
        _vp("climb the big tree"),
        T(
            "{When}, {who} and {helper} went {to_place}. There was a big tree there.",
            "{When}, {who} saw a big tree with low branches {at_place}.",
        ),
        T(
            '"What if I fall?" asked {name}.',
            '"It is too high for me," said {name} in a small voice.',
        ),
        T(
            "From the top, {name} could see the whole {place}! It was so pretty.",
            "{He} held on tight and went up, one branch at a time. {He} was up high!",
        ),
        places=("park", "garden", "forest", "meadow", "backyard", "hill"),
        not_kinds=("bird", "owl", "squirrel", "monkey"),
    ),
    Fear(
        EN.w("the bees"),
        _vp("walk past the flowers"),
        T(
            "{When}, {who} and {helper} went {to_place}. Bees were buzzing over the flowers.",
            "{When}, {who} heard a buzz, buzz, buzz {at_place}. It was the bees!",
        ),
        T(
            '"What if they sting me?" asked {name}.',
            '"The bees are too loud and too fast!" said {name}.',
        ),
        T(
            "The bees were busy with the flowers. They did not care about {name} at all.",
            "The bees flew from flower to flower. They only wanted the sweet flowers.",
        ),
        places=("garden", "meadow", "park", "farm"),
    ),
    Fear(
        EN.w("the big waves"),
        _vp("play in the waves"),
        T(
            "{When}, {who} went to the beach with {helper}. The waves were big and loud.",
        ),
        T(
            '"What if the waves [knock me down|are too big]?" asked {name}.',
        ),
        T(
            "The little waves tickled {his} toes! {name} laughed and jumped over them.",
            "The waves came and went. Splash! They were cool and fun.",
        ),
        places=("beach",),
        not_kinds=("duck", "frog"),
    ),
)


_KIDS = ("kid",)
SKILLS: tuple[Skill[VerbPhrase], ...] = (
    Skill(
        _vp("ride a bike"),
        _KIDS,
        T(
            "{He} wobbled and fell down on the grass.",
            "The bike went this way and that way, and {name} fell down.",
        ),
        T(
            '"Look in front of you and keep pushing the pedals," {hhe} said.',
        ),
        T("{He} rode all the way down the street!", "{He} rode round and round {the_place}!"),
    ),
    Skill(
        _vp("swim"),
        ("kid", "dog", "puppy", "bear"),
        T(
            "{He} splashed and splashed, but {he} did not move.",
            "{He} kicked, but water got in {his} nose.",
        ),
        T(
            '"Kick your legs and move your arms, like a frog," {hhe} said.',
        ),
        T(
            "{He} swam all the way to {helper}!",
            "{He} kicked and paddled and swam across the water!",
        ),
    ),
    Skill(
        _vp("tie {his} shoes"),
        _KIDS,
        T(
            "The laces went round and round, but they did not make a bow.",
            "The laces made a big knot.",
        ),
        T(
            '"Make two bunny ears and cross them," {hhe} said.',
        ),
        T("{He} made a perfect bow!", "{His} shoes were tied, all by {self}!"),
    ),
    Skill(
        _vp("fly"),
        ("bird", "owl", "duck"),
        T(
            "{He} flapped {his} wings, but {he} fell down on the soft grass.",
            "{He} jumped from the nest, but {he} landed on the ground with a bump.",
        ),
        T(
            '"Flap fast and look up at the sky," {hhe} said.',
        ),
        T("{He} flew up, up, up into the blue sky!", "{He} flew over the trees and the houses!"),
    ),
    Skill(
        _vp("jump rope"),
        _KIDS,
        T(
            "The rope hit {his} feet, and {he} stopped.",
            "{He} jumped too soon, and the rope got stuck.",
        ),
        T(
            '"Jump when the rope comes down, not before," {hhe} said.',
        ),
        T("{He} jumped ten times without stopping!", "Jump, jump, jump! {He} did not stop!"),
    ),
    Skill(
        _vp("climb the big tree"),
        ("kid", "cat", "kitten", "squirrel", "monkey", "bear"),
        T(
            "{He} slipped and slid back down.",
            "{He} got to the first branch, but then {he} slid down.",
        ),
        T(
            '"Hold on tight and take one step at a time," {hhe} said.',
        ),
        T("{He} climbed all the way to the top!", "{He} sat on a high branch and waved!"),
    ),
    Skill(
        _vp("catch a ball"),
        ("kid", "dog", "puppy"),
        T("The ball hit {him} on the nose. Bonk!", "The ball bounced away every time."),
        T(
            '"Keep your eyes on the ball," {hhe} said.',
        ),
        T("{He} caught the ball with a big smile!", "{He} caught the ball three times in a row!"),
    ),
    Skill(
        _vp("whistle"),
        _KIDS,
        T(
            "Only air came out. No sound at all!",
            "{He} blew and blew, but {he} only made a funny noise.",
        ),
        T(
            '"Make your lips small and round, and blow softly," {hhe} said.',
        ),
        T("A little whistle came out! Tweet!", "{He} whistled a happy song!"),
    ),
    Skill(
        _vp("read a book"),
        ("kid", "owl"),
        T("The words were hard, and {he} got stuck.", "The letters looked like funny lines."),
        T(
            '"Say the sounds slowly, one at a time," {hhe} said.',
        ),
        T("{He} read the whole book, page by page!", "{He} read a story all by {self}!"),
    ),
    Skill(
        _vp("write {his} name"),
        _KIDS,
        T("The letters came out big and funny.", "{He} made the letters the wrong way."),
        T(
            '"Go slowly and look at each letter," {hhe} said.',
        ),
        T("{He} wrote {his} name, big and clear!", "{He} wrote {his} name on a paper and smiled."),
    ),
    Skill(
        _vp("jump over the log"),
        ("bunny", "frog", "lamb", "fox", "dog", "puppy"),
        T(
            "{He} jumped, but {he} bumped into the log.",
            "{He} did not jump high enough and fell in the leaves.",
        ),
        T(
            '"Run fast and then jump high," {hhe} said.',
        ),
        T("{He} jumped right over the log!", "{He} flew over the log like a bird!"),
    ),
)


NEEDS: tuple[Need, ...] = (
    Need(
        T("a little bird with a hurt wing", "a baby bird on the ground"),
        (
            T(
                "The bird could not fly. It looked [scared|cold and scared].",
            ),
            T(
                "{name} [gently|carefully] picked up the bird and took it home.",
            ),
            T(
                "{name} and {his} {parent} made a soft bed for the bird in a box.",
                "{His} {parent} helped {him} make a little bed for the bird.",
            ),
            T(
                "Every day, {name} gave the bird water and seeds.",
            ),
            T(
                "After a few days, the bird's wing was better.",
            ),
        ),
        T(
            "The bird flew up into the sky. It sang a happy song for {name}.",
            "The bird flew around {name} two times, as if to say thank you.",
        ),
        T(
            "{name} finds a bird with a hurt wing and takes care of it until it can fly again.",
        ),
        "n",
        T(
            "The next morning, the bird came back with a shiny [red|blue] feather and put it in "
            "{name_s} hand. It was a present!",
        ),
        T(
            "{name} helps a hurt bird, and the bird comes back with a present for {him}.",
        ),
    ),
    Need(
        T("a little kitten high up in a tree", "a kitten that was stuck in a tree"),
        (
            T(
                "The kitten was scared and meowed and meowed.",
            ),
            T(
                "{name} ran to get {his} {parent}. {pHe} got a ladder and climbed up the tree.",
            ),
            T(
                "{pHe} brought the kitten down, safe and sound.",
            ),
        ),
        T(
            "The kitten purred and rubbed its head on {name_s} hand.",
            "{name} gave the kitten some milk, and it purred.",
        ),
        T(
            "{name} and {his} {parent} help a kitten that is stuck in a tree.",
        ),
        "n",
        T(
            "The kitten did not have a home. So {name} kept it, and it became {his} best friend!",
        ),
        T(
            "{name} helps a kitten stuck in a tree and it becomes {his} new pet.",
        ),
    ),
    Need(
        T(
            "an old man who dropped his bag of apples",
        ),
        (
            T(
                "The apples rolled all over the path.",
            ),
            T(
                '"Oh dear, my apples!" said the old man.',
            ),
            T(
                "{name} ran to help. {He} picked up the apples, one by one, and put them back in "
                "the bag.",
            ),
        ),
        T(
            '"Thank you, little one," said the old man. He gave {name} a big red apple.',
            'The old man smiled. "You are very kind," he said.',
        ),
        T(
            "{name} helps an old man pick up the apples he dropped.",
        ),
        "m",
    ),
    Need(
        T(
            "an old woman who could not find her glasses",
        ),
        (
            T(
                '"I can\'t see a thing without them," said the old woman.',
            ),
            T(
                "{name} looked {spot2}. {He} looked {spot3}.",
            ),
        ),
        T(
            '"Thank you, dear," said the old woman, and she gave {name} a big hug.',
        ),
        T(
            "{name} helps an old woman look for her glasses.",
        ),
        "f",
        T(
            "Then {name} looked up and laughed. The glasses were on the old woman's head all "
            "along!",
        ),
        T(
            "{name} helps an old woman look for her glasses, which were on her head all along.",
        ),
    ),
    Need(
        T("a little duckling all alone", "a baby duck that was lost"),
        (
            T(
                'The duckling could not find its mom. "Peep, peep," it cried.',
            ),
            T(
                "{name} [gently|carefully] carried the duckling to the pond.",
            ),
            T(
                "There was the mother duck! The duckling swam to its mom as fast as it could.",
            ),
        ),
        T(
            '"Quack, quack!" said the mother duck. It sounded like a thank you.',
        ),
        T(
            "{name} finds a lost duckling and takes it back to its mother.",
        ),
        "n",
    ),
    Need(
        T(
            "a tiny ant with a big crumb",
        ),
        (
            T(
                "The crumb was too big, and the ant could not carry it.",
            ),
            T(
                "{name} picked up the crumb and put it near the ant hill.",
            ),
            T(
                "Many little ants came out and carried the crumb inside.",
            ),
        ),
        T(
            "The tiny ant waved its legs, as if to say thank you.",
        ),
        T(
            "{name} helps a tiny ant carry a big crumb home.",
        ),
        "n",
    ),
    Need(
        T(
            "a little boy who fell and hurt his knee",
        ),
        (
            T(
                "The boy was crying. His knee was red.",
            ),
            T(
                '"Are you okay?" asked {name}. {He} helped the boy stand up.',
            ),
            T(
                "{name} walked with him to his mom, who gave him a hug.",
            ),
        ),
        T(
            'The little boy smiled. "Thank you," he said. "You are a good friend."',
        ),
        T(
            "{name} helps a little boy who fell down and hurt his knee.",
        ),
        "m",
    ),
)


GIFTS: tuple[Gift, ...] = (
    Gift(
        T(
            "{He} drew a big picture of the two of them under a yellow sun.",
            "{He} got {his} crayons and drew a picture with lots of hearts.",
        ),
        EN.w("picture"),
    ),
    Gift(
        T(
            "{He} went {to_place} and picked the prettiest flowers {he} could find.",
        ),
        EN.w("flowers"),
        ("garden", "meadow", "park", "farm"),
        "them",
    ),
    Gift(
        T(
            "{He} made a card with hearts and stars on it.",
            "{He} folded a paper and made a card. On it, {he} drew a big heart.",
        ),
        EN.w("card"),
    ),
    Gift(
        T(
            "{He} asked {helper} to help, and they baked a little cake together.",
        ),
        EN.w("cake"),
    ),
    Gift(
        T(
            "{He} found pretty shells and made a necklace out of them.",
        ),
        EN.w("necklace"),
        ("beach",),
    ),
    Gift(
        T(
            "{He} found a smooth, round rock and painted it with bright colors.",
        ),
        EN.w("rock"),
    ),
)

# Misbehaviour for the mistake arc: what happened, what the hero does to make it right.
MISTAKES: tuple[Mistake, ...] = (
    Mistake(
        (
            T(
                '{His} {parent} baked cookies for a party. "Please do not eat them yet," '
                "{phe} said.",
            ),
            T(
                "But the cookies smelled so good. {name} ate one, then another, and then another!",
            ),
            T(
                "Soon, there were no cookies left.",
            ),
        ),
        T(
            "{He} hid the empty plate under {his} bed.",
        ),
        T(
            "Then they baked new cookies together, and {name} did not eat a single one.",
        ),
        T(
            "{name} eats all the cookies for the party, then tells the truth and helps bake "
            "new ones.",
        ),
        foreshadow=True,
    ),
    Mistake(
        (
            T(
                "{name} was playing ball in the house, even though it was not allowed.",
            ),
            T(
                "{He} threw the ball, and it hit {his} {parent_s} favorite vase.",
            ),
            T(
                "Crash! The vase broke into many pieces.",
            ),
        ),
        T(
            "{He} pushed the pieces under the rug.",
        ),
        T(
            "Then they glued the vase together, piece by piece.",
        ),
        T(
            "{name} breaks a vase while playing ball in the house and learns to tell the "
            "truth about it.",
        ),
    ),
    Mistake(
        (
            T(
                "{name} found some crayons.",
            ),
            T(
                "{He} drew big red and blue lines all over the wall.",
            ),
            T(
                "Soon, the wall was full of drawings.",
            ),
        ),
        T(
            "{He} put a big chair in front of the wall.",
        ),
        T(
            "Then they cleaned the wall together with soap and water.",
        ),
        T(
            "{name} draws on the wall, says sorry and helps clean it.",
        ),
    ),
    Mistake(
        (
            T(
                "{F1} had {a_adj_obj}. {name} liked it very much.",
            ),
            T(
                "When {fname} was not looking, {name} took the {obj} and put it in {his} bag.",
            ),
            T(
                "At home, {name} played with it, but it did not feel good.",
            ),
        ),
        T(
            "{He} hid the {obj} under {his} pillow.",
        ),
        T(
            "The next day, {name} gave the {obj} back to {fname}. {fname} was happy again, "
            "and they played with it together.",
        ),
        T(
            "{name} takes {fname_s} {obj} without asking, then says sorry and gives it back.",
        ),
        conflict=True,
    ),
    Mistake(
        (
            T(
                "{name} played in the mud all afternoon.",
            ),
            T(
                "Then {he} ran into the house with muddy {feet}.",
            ),
            T(
                "The clean floor was covered with mud!",
            ),
        ),
        T(
            "{He} ran to {his} room and hid under the blanket.",
        ),
        T(
            "Then {name} helped clean the floor until it was shiny again.",
        ),
        T(
            "{name} makes the clean floor muddy and helps clean it up.",
        ),
    ),
)


HAZARDS: tuple[Hazard, ...] = (
    Hazard(
        T(
            '"Do not play with your {obj} near the water," said {his} {parent}.',
            '"Stay away from the water with your {obj}. It is deep," said {his} {parent}.',
        ),
        T(
            "But {name} wanted to see the water up close. {He} took {his} {obj} to the edge.",
            "But {name} did not listen. {He} ran to the water with {his} {obj}.",
        ),
        T(
            "{He} slipped, and the {obj} fell into the water! The water carried it away.",
        ),
        T(
            "{name} watched {his} {obj} float far, far away. {He} never saw it again.",
            "The {obj} was gone. {name} went home with tears on {his} face.",
        ),
        T(
            "{His} {parent} got a long stick and pulled the {obj} out of the water.",
        ),
        T(
            "{name} does not listen to {his} {parent} and loses {his} {obj} in the water.",
        ),
        T(
            "{name} almost loses {his} {obj} in the water because {he} did not listen.",
        ),
        needs="water",
    ),
    Hazard(
        T(
            '"Hold on to your {obj}. The wind is very strong today," said {his} {parent}.',
        ),
        T(
            "But {name} wanted to {use} {his} {obj} high in the wind.",
            "But {name} let go with one hand to wave at a bird.",
        ),
        T(
            "A big wind came, and the {obj} flew away! It went up, up, up into the sky.",
        ),
        T(
            "{name} watched it until it was just a little dot. Then it was gone.",
            "The {obj} flew over the trees and never came back.",
        ),
        T(
            "It got stuck in a tree, and {his} {parent} climbed up and got it down.",
        ),
        T(
            "{name} does not hold on to {his} {obj}, and the wind takes it away.",
        ),
        T(
            "The wind takes {name_s} {obj}, but {his} {parent} gets it back from a tree.",
        ),
        needs="wind",
    ),
    Hazard(
        T(
            '"Do not climb the tall tree. It is not safe," said {his} {parent}.',
        ),
        T(
            "But when {phe} was not looking, {name} climbed up, higher and higher.",
        ),
        T(
            "Then a branch broke, and {name} fell down! {He} hurt {his} leg.",
        ),
        T(
            "{He} had to stay in bed for many days. {He} could not run or play outside.",
        ),
        T(
            "{His} {parent} came running and gave {him} a big hug. It was only a little scratch.",
        ),
        T(
            "{name} climbs a tall tree after being told not to, falls and hurts {his} leg.",
        ),
        T(
            "{name} climbs a tree {he} was told not to climb and falls, but is only a little hurt.",
        ),
        places=("park", "garden", "forest", "meadow", "backyard", "hill", "farm"),
    ),
    Hazard(
        T(
            '{His} {parent} gave {him} a bag of candy. "Only eat a little," {phe} said.',
        ),
        T(
            "But the candy was so sweet and good. {name} ate it all.",
        ),
        T(
            "That night, {his} tummy hurt a lot.",
        ),
        T(
            "The next day, {he} had to stay in bed and could not go out to play.",
        ),
        T(
            "{His} {parent} gave {him} some warm tea, and soon {he} felt better.",
        ),
        T(
            "{name} eats too much candy, gets a tummy ache and has to stay in bed.",
        ),
        T(
            "{name} eats too much candy and gets a tummy ache.",
        ),
    ),
    Hazard(
        T(
            '"Stay away from the bees," said {his} {parent}. "They can sting."',
        ),
        T(
            "But {name} wanted to see the bees up close. {He} poked their home with a stick.",
        ),
        T(
            "The bees got angry, and one of them stung {name} on the nose!",
        ),
        T(
            "{His} nose was big and red for three days, and it hurt.",
        ),
        T(
            "{His} {parent} put something cold on it, and soon it did not hurt anymore.",
        ),
        T(
            "{name} pokes a bee home with a stick and gets stung on the nose.",
        ),
        T(
            "{name} gets stung by a bee after poking their home, but {his} {parent} helps {him}.",
        ),
        places=("garden", "meadow", "park", "farm", "forest"),
    ),
)


NOISES: tuple[Noise, ...] = (
    Noise(
        EN.w("One night"),
        T(
            "{He} heard a scratch, scratch, scratch at the door.",
            "Then {he} heard a funny noise at the door. Scratch, scratch!",
        ),
        T(
            "It was a little wet kitten! It was lost and cold.",
        ),
        T(
            "{name} gave the kitten some warm milk and a soft blanket. The kitten stayed with "
            "them and became part of the family.",
        ),
        EN.w("a lost kitten"),
        T(
            "Outside, the rain was falling, and the wind was cold.",
        ),
    ),
    Noise(
        EN.w("One night"),
        T(
            "{He} heard a tap, tap, tap on the window.",
        ),
        T(
            "It was only a branch of the old tree, moving in the wind!",
        ),
        T(
            "{name} laughed and went back to bed. The tree was just saying good night.",
        ),
        EN.w("a branch tapping on the window"),
        T(
            "That night, the wind was blowing hard.",
        ),
    ),
    Noise(
        EN.w("One night"),
        T(
            "{He} heard a little noise under {his} bed. Crunch, crunch!",
        ),
        T(
            "It was a tiny mouse, eating a cookie crumb!",
        ),
        T(
            "The mouse ran out the door with its crumb. {name} smiled. From then on, {he} "
            "always ate {his} cookies at the table.",
        ),
        EN.w("a tiny mouse eating crumbs"),
        T(
            "Before bed, {name} ate a cookie in {his} room and dropped some crumbs.",
        ),
    ),
    Noise(
        EN.w("One afternoon"),
        T(
            "{He} heard something move in the bushes {at_place}. Rustle, rustle!",
        ),
        T(
            "It was {f1}! {fHe} was hiding and wanted to give {name} a surprise.",
        ),
        T(
            "They laughed and laughed. Then they played hide and seek until dinner.",
        ),
        EN.w("a friend playing a joke"),
        T(
            '{F1} had said, "I have a surprise for you today."',
        ),
        places=("park", "garden", "backyard", "forest", "meadow"),
    ),
    Noise(
        EN.w("One night"),
        T(
            "{He} heard a loud bang from the kitchen.",
        ),
        T(
            "It was {his} {parent}, who dropped a big pan while making a late snack!",
        ),
        T(
            "They both laughed. Then they ate warm toast together before bed.",
        ),
        EN.w("a parent making a snack"),
        T(
            "That night, {name_s} {parent} was still awake in the kitchen.",
        ),
        by_parent=True,
    ),
    Noise(
        EN.w("One afternoon"),
        T(
            "{He} heard a soft hooting sound from an old tree {at_place}.",
        ),
        T(
            "It was a baby owl! It was sitting in a little hole in the tree.",
        ),
        T(
            "The mother owl came back, and the baby owl was happy. {name} waved goodbye.",
        ),
        EN.w("a baby owl"),
        T(
            "{His} {parent} said that many birds lived in the old trees there.",
        ),
        places=("park", "garden", "forest", "backyard"),
    ),
)

# Indoor fun for the rainy-day arc: what the parent suggests and what they then did.
RAINY_FUN: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        EN.w("have a picnic on the floor"),
        T(
            "They put a big blanket on the floor and had a picnic right in the house.",
        ),
    ),
    (
        EN.w("build a fort"),
        T(
            "They built a big fort with blankets and pillows. It was warm and cozy inside.",
        ),
    ),
    (
        EN.w("bake cookies"),
        T(
            "They baked cookies together, and the whole house smelled sweet.",
        ),
    ),
    (
        EN.w("paint pictures"),
        T(
            "They painted pictures of the sun, the sky and the {place}.",
        ),
    ),
    (
        EN.w("put on our boots and jump in the puddles"),
        T(
            "They put on their boots and coats and jumped in the big puddles. Splash!",
        ),
    ),
    (
        EN.w("play a game"),
        T(
            "They played games and told funny stories all afternoon.",
        ),
    ),
)

GAMES = EN.ws(("tag", "hide and seek", "house", "catch", "pirates", "dress up", "school", "ball"))
RACE_GOALS = EN.ws(("big tree", "big rock", "fence", "old tree", "gate"))
BABIES = EN.ws(("duckling", "baby bird", "chick", "baby turtle"))
