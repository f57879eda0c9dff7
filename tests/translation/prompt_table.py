"""The accuracy table of the translator: Chinese prompts and the English answers accepted.

Each row is ``(chinese, accepted English answers)``; answers are compared lower-cased.
"""

from __future__ import annotations

# The 80 COCO categories, in the Chinese a user would type.
COCO_CATEGORIES: list[tuple[str, set[str]]] = [
    ("人", {"person", "people", "human"}), ("自行车", {"bicycle", "bike"}),
    ("汽车", {"car", "automobile"}), ("摩托车", {"motorcycle", "motorbike"}),
    ("飞机", {"airplane", "plane", "aeroplane", "aircraft"}), ("公交车", {"bus"}),
    ("火车", {"train"}), ("卡车", {"truck", "lorry"}), ("船", {"boat", "ship"}),
    ("红绿灯", {"traffic light"}), ("消防栓", {"fire hydrant", "hydrant"}),
    ("停车标志", {"stop sign"}), ("停车计时器", {"parking meter"}), ("长椅", {"bench"}),
    ("鸟", {"bird"}), ("猫", {"cat"}), ("狗", {"dog"}), ("马", {"horse"}),
    ("羊", {"sheep"}), ("牛", {"cow", "cattle", "ox"}), ("大象", {"elephant"}),
    ("熊", {"bear"}), ("斑马", {"zebra"}), ("长颈鹿", {"giraffe"}),
    ("背包", {"backpack", "rucksack"}), ("雨伞", {"umbrella"}),
    ("手提包", {"handbag", "bag", "purse"}), ("领带", {"tie", "necktie"}),
    ("行李箱", {"suitcase", "luggage"}), ("飞盘", {"frisbee"}), ("滑雪板", {"skis", "ski"}),
    ("单板滑雪板", {"snowboard"}), ("运动球", {"sports ball", "ball"}), ("风筝", {"kite"}),
    ("棒球棒", {"baseball bat", "bat"}), ("棒球手套", {"baseball glove", "glove"}),
    ("滑板", {"skateboard"}), ("冲浪板", {"surfboard"}),
    ("网球拍", {"tennis racket", "racket"}), ("瓶子", {"bottle"}),
    ("酒杯", {"wine glass", "wineglass", "glass"}), ("杯子", {"cup", "mug"}),
    ("叉子", {"fork"}), ("刀", {"knife"}), ("勺子", {"spoon"}), ("碗", {"bowl"}),
    ("香蕉", {"banana"}), ("苹果", {"apple"}), ("三明治", {"sandwich"}),
    ("橙子", {"orange"}), ("西兰花", {"broccoli"}), ("胡萝卜", {"carrot"}),
    ("热狗", {"hot dog"}), ("披萨", {"pizza"}), ("甜甜圈", {"donut", "doughnut"}),
    ("蛋糕", {"cake"}), ("椅子", {"chair"}), ("沙发", {"couch", "sofa"}),
    ("盆栽", {"potted plant", "plant"}), ("床", {"bed"}),
    ("餐桌", {"dining table", "table"}), ("马桶", {"toilet"}),
    ("电视", {"tv", "television"}), ("笔记本电脑", {"laptop", "notebook computer"}),
    ("鼠标", {"mouse", "computer mouse"}), ("遥控器", {"remote", "remote control"}),
    ("键盘", {"keyboard"}), ("手机", {"cell phone", "mobile phone", "phone"}),
    ("微波炉", {"microwave", "microwave oven"}), ("烤箱", {"oven"}),
    ("烤面包机", {"toaster"}), ("水槽", {"sink"}), ("冰箱", {"refrigerator", "fridge"}),
    ("书", {"book"}), ("时钟", {"clock"}), ("花瓶", {"vase"}), ("剪刀", {"scissors"}),
    ("泰迪熊", {"teddy bear"}), ("吹风机", {"hair drier", "hair dryer", "hairdryer"}),
    ("牙刷", {"toothbrush"}),
]  # fmt: skip

# Common LVIS objects outside COCO, written without looking at the curated table first.
LVIS_OBJECTS: list[tuple[str, set[str]]] = [
    ("帽子", {"hat", "cap"}), ("眼镜", {"glasses", "eyeglasses", "spectacles"}),
    ("太阳镜", {"sunglasses"}), ("手表", {"watch", "wristwatch"}), ("鞋子", {"shoe", "shoes"}),
    ("靴子", {"boot", "boots"}), ("夹克", {"jacket"}), ("衬衫", {"shirt"}),
    ("裤子", {"trousers", "pants"}), ("裙子", {"skirt", "dress"}), ("围巾", {"scarf"}),
    ("手套", {"glove", "gloves"}), ("窗户", {"window"}), ("门", {"door"}),
    ("灯", {"lamp", "light"}), ("台灯", {"lamp", "desk lamp"}), ("枕头", {"pillow"}),
    ("毯子", {"blanket"}), ("窗帘", {"curtain"}), ("地毯", {"rug", "carpet"}),
    ("镜子", {"mirror"}), ("毛巾", {"towel"}), ("篮子", {"basket"}), ("盒子", {"box"}),
    ("盘子", {"plate", "dish"}), ("锅", {"pot", "pan", "wok"}), ("筷子", {"chopsticks"}),
    ("西瓜", {"watermelon"}), ("葡萄", {"grape", "grapes"}), ("草莓", {"strawberry"}),
    ("柠檬", {"lemon"}), ("鸡蛋", {"egg"}), ("面包", {"bread"}), ("番茄", {"tomato"}),
    ("西红柿", {"tomato"}), ("土豆", {"potato"}), ("蘑菇", {"mushroom"}),
    ("花", {"flower"}), ("树", {"tree"}), ("草", {"grass"}), ("叶子", {"leaf", "leaves"}),
    ("鸭子", {"duck"}), ("鸡", {"chicken"}), ("猪", {"pig", "hog", "swine"}),
    ("兔子", {"rabbit", "bunny"}), ("鱼", {"fish"}), ("猴子", {"monkey"}),
    ("老虎", {"tiger"}), ("狮子", {"lion"}), ("蝴蝶", {"butterfly"}),
    ("路灯", {"street light", "streetlight", "lamppost"}),
    ("垃圾桶", {"trash can", "garbage can", "trash bin", "dustbin"}),
    ("气球", {"balloon"}), ("吉他", {"guitar"}), ("钢琴", {"piano"}), ("相机", {"camera"}),
    ("耳机", {"headphones", "earphones", "headphone", "earphone"}), ("钥匙", {"key"}),
    ("钱包", {"wallet", "purse"}), ("蜡烛", {"candle"}), ("旗子", {"flag"}),
    ("头盔", {"helmet"}), ("轮胎", {"tire", "tyre"}), ("桥", {"bridge"}),
    ("楼梯", {"stairs", "staircase", "stairway"}),
    ("出租车", {"taxi", "cab"}), ("直升机", {"helicopter"}), ("帐篷", {"tent"}),
]  # fmt: skip

# Attribute and relation phrases: the grammar rules at work.
PHRASES: list[tuple[str, set[str]]] = [
    ("红色的汽车", {"red car"}), ("红车", {"red car"}), ("白色的狗", {"white dog"}),
    ("黑色的猫", {"black cat"}), ("黄色的香蕉", {"yellow banana"}),
    ("蓝色的自行车", {"blue bicycle", "blue bike"}), ("绿色的苹果", {"green apple"}),
    ("灰色的大象", {"gray elephant", "grey elephant"}), ("白色的杯子", {"white cup"}),
    ("大狗", {"big dog", "large dog"}), ("小猫", {"kitten", "small cat", "little cat"}),
    ("大的卡车", {"big truck", "large truck"}), ("粉色的裙子", {"pink skirt", "pink dress"}),
    ("紫色的花", {"purple flower"}), ("棕色的熊", {"brown bear"}),
    ("桌子上的杯子", {"cup on table", "cup on the table"}),
    ("床上的猫", {"cat on bed", "cat on the bed"}),
    ("沙发上的狗", {"dog on couch", "dog on sofa"}),
    ("盘子里的香蕉", {"banana in plate", "banana on plate"}),
    ("碗里的苹果", {"apple in bowl"}), ("树上的鸟", {"bird on tree", "bird in tree"}),
    ("椅子旁边的狗", {"dog next to chair"}), ("桌子下面的猫", {"cat under table"}),
    ("车里的人", {"person in car"}), ("床旁边的灯", {"lamp next to bed", "light next to bed"}),
    ("穿红衣服的人", {"person wearing red clothes", "person wearing red clothing"}),
    ("穿白衬衫的男人", {"man wearing white shirt"}),
    ("戴帽子的女孩", {"girl wearing hat", "girl wearing cap"}),
    ("戴眼镜的人", {"person wearing glasses"}),
    ("骑自行车的人", {"person riding bicycle", "person riding bike"}),
    ("拿着雨伞的女人", {"woman holding umbrella"}),
    ("三只狗", {"dog", "dogs"}), ("两个人", {"person", "people"}),
    ("一辆红色的汽车", {"red car"}), ("五个苹果", {"apple", "apples"}),
    ("这只猫", {"cat"}), ("一些鸟", {"bird", "birds"}),
    ("红色的car", {"red car"}), ("白色的dog", {"white dog"}),
]  # fmt: skip

ALL_ROWS = COCO_CATEGORIES + LVIS_OBJECTS + PHRASES
