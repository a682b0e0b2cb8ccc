"""Chinese (and neighbouring-language) fixtures written for the tests: prose a Chinese corpus should keep,
and pages each filter should reject for a known reason."""

from __future__ import annotations

PROSE = [
    "今年春天，我们学校的图书馆进行了一次全面的改造。改造以后，阅览室的座位增加了一倍，光线也比以前明亮了许多。"
    "很多同学说，现在他们更愿意在图书馆里学习，而不是在宿舍里看手机。\n"
    "图书馆的老师告诉我们，这次改造花了半年的时间。在设计的时候，他们专门听取了学生的意见，"
    "比如在每张桌子上都安装了电源插座，还在二楼设置了可以小声讨论的区域。\n"
    "当然，也有一些同学提出了新的建议。有人希望延长周末的开放时间，也有人希望增加外文期刊的数量。"
    "图书馆表示，会在下学期认真考虑这些意见，并且在网站上公布具体的安排。",

    "黄河是中国的第二长河，全长约五千四百多公里。它发源于青藏高原，流经九个省区，最后注入渤海。"
    "在漫长的历史中，黄河流域孕育了灿烂的古代文明，因此人们常常把它称为中华民族的母亲河。\n"
    "不过，黄河也曾经给沿岸的人民带来过严重的灾难。由于中游地区水土流失严重，河水中含有大量的泥沙，"
    "下游的河床不断抬高，历史上多次发生决口和改道。\n"
    "新中国成立以后，国家在黄河上修建了许多水利工程，同时在中游地区开展了大规模的植树造林。"
    "经过几十年的努力，黄河的含沙量明显下降，沿岸的生态环境也有了很大的改善。",

    "做菜其实并不难，关键是要有耐心。以西红柿炒鸡蛋为例，首先要把鸡蛋打散，加一点盐，然后把西红柿切成小块。\n"
    "锅里放油，油热以后先炒鸡蛋，鸡蛋凝固以后盛出来备用。接着再放一点油，把西红柿放进去翻炒，"
    "等西红柿出汁以后，再把鸡蛋倒回锅里，加入少量的糖和盐，翻炒均匀就可以出锅了。\n"
    "这道菜虽然简单，但是每个家庭的做法都不太一样。有的人喜欢多放糖，有的人喜欢加葱花，"
    "你也可以根据自己的口味进行调整。重要的是多练习，做得多了，自然就有经验了。",
]

KEYWORD_SPAM = ("手机 手机壳 手机膜 手机 充电器 手机 数据线 手机 手机 耳机 手机 手机壳 " * 20).strip()

REPEATED = "\n".join(["欢迎光临本店，全场商品八折优惠，欢迎选购！"] * 30)

BAD_WORDS_PAGE = (PROSE[0].split("\n")[0] + "\n他说：“你他妈的给我闭嘴！”大家都愣住了，没有人再说话。\n"
                  + PROSE[0].split("\n")[1])

# The everyday words that contain a listed term must not trigger the list.
BENIGN_LOOKALIKES = ("他妈妈今天去超市买了两盒牛奶。这台机床的刚度和性能都很好，我们决定再买一台。\n"
                     + PROSE[1])

JAPANESE = ("私は毎朝七時に起きて、駅まで歩いて行きます。電車の中では本を読んだり、音楽を聞いたりしています。"
            "会社に着いたら、まずメールを確認して、それから会議の準備をします。週末は友達と映画を見に行くことが多いです。")
KOREAN = ("저는 매일 아침 일곱 시에 일어나서 학교에 갑니다. 수업이 끝나면 친구들과 도서관에서 공부를 하고, "
          "저녁에는 가족과 함께 식사를 합니다. 주말에는 공원에서 산책을 하거나 영화를 봅니다.")
ENGLISH = ("The city library reopened on Monday after a renovation that took most of the year. Visitors can now "
           "read on a new terrace, and the reading rooms have twice as many seats as before.\n"
           "The staff said that students had asked for longer opening hours. They would consider it next term, "
           "and they would also buy more journals in foreign languages.\n"
           "Her colleague explained that the terrace had been her idea. She had seen a similar one in another "
           "city and thought it would suit the old building. The work was finished on time and within budget.")
# A Chinese article with English product names stays Chinese.
ZH_WITH_ENGLISH = ("我们团队最近使用 PyTorch 和 DeepSpeed 训练了一个中文语言模型。训练数据来自公开的网页和书籍，"
                   "总共大约有两千亿个词。在训练过程中，我们发现学习率的设置对模型的效果影响很大，"
                   "因此专门做了一组对比实验。实验结果表明，适当的预热步数可以让训练更加稳定。")
TRADITIONAL = "這是一篇用繁體字寫的文章，我們今天去學校讀書，圖書館裡有很多學生在認真學習。"
