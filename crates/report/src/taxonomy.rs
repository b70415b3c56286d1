//! Display names in both service languages: threat types, scenarios, attack stages and
//! victim industries. Keys not in a table are shown as they are stored.

use serde::{Deserialize, Serialize};

/// `ServiceLang`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "zh" => Ok(Self::Zh),
            "en" => Ok(Self::En),
            other => Err(format!("language {other:?} is not supported; use zh or en")),
        }
    }
}

/// What a verdict means for a defender (`Scenario`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// 失陷指标: seeing the name in traffic means a host is already compromised.
    Compromise,
    /// 攻击指标: the name is used to attack.
    Attack,
    /// 信息数据: allowlists and other informational data.
    Informational,
}

impl Scenario {
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::Compromise, Lang::Zh) => "失陷指标",
            (Self::Attack, Lang::Zh) => "攻击指标",
            (Self::Informational, Lang::Zh) => "信息数据",
            (Self::Compromise, Lang::En) => "compromise indicator",
            (Self::Attack, Lang::En) => "attack indicator",
            (Self::Informational, Lang::En) => "informational",
        }
    }

    /// Reads a scenario a feed states, in either language.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [Self::Compromise, Self::Attack, Self::Informational]
            .into_iter()
            .find(|sc| s == sc.name(Lang::Zh) || s.eq_ignore_ascii_case(sc.name(Lang::En)))
    }
}

/// (threat type, 中文, English, scenario). The first block is the reference's taxonomy.
const THREAT_TYPES: &[(&str, &str, &str, Scenario)] = &[
    ("Botnet", "僵尸网络", "Botnet", Scenario::Compromise),
    ("Trojan", "木马", "Trojan", Scenario::Compromise),
    ("Worm", "蠕虫", "Worm", Scenario::Compromise),
    ("Malware", "恶意软件", "Malware", Scenario::Compromise),
    ("Ransomware", "勒索软件", "Ransomware", Scenario::Compromise),
    (
        "APT",
        "高级持续威胁攻击",
        "Advanced persistent threat",
        Scenario::Compromise,
    ),
    ("RAT", "远控", "Remote access trojan", Scenario::Compromise),
    (
        "C&C Server",
        "中控",
        "Command and control server",
        Scenario::Compromise,
    ),
    ("Miner Pool", "矿池", "Mining pool", Scenario::Compromise),
    (
        "Malicious Source",
        "恶意下载源",
        "Malicious download source",
        Scenario::Compromise,
    ),
    (
        "Scheduled Task",
        "Windows计划任务",
        "Windows scheduled task",
        Scenario::Compromise,
    ),
    ("BITS Jobs", "BITS作业", "BITS jobs", Scenario::Compromise),
    (
        "Command-Line Interface",
        "恶意命令",
        "Malicious command line",
        Scenario::Compromise,
    ),
    (
        "Mshta执行",
        "Mshta执行",
        "Mshta execution",
        Scenario::Compromise,
    ),
    (
        "Regsvr32",
        "Regsvr32执行",
        "Regsvr32 execution",
        Scenario::Compromise,
    ),
    (
        "Signed Binary Proxy Execution",
        "签名的二进制代理执行",
        "Signed binary proxy execution",
        Scenario::Compromise,
    ),
    (
        "Local Job Scheduling",
        "Linux计划任务",
        "Linux job scheduling",
        Scenario::Compromise,
    ),
    (
        "Rundll32",
        "Rundll32执行",
        "Rundll32 execution",
        Scenario::Compromise,
    ),
    ("Phishing", "钓鱼网站", "Phishing", Scenario::Attack),
    ("Scanner", "扫描", "Scanner", Scenario::Attack),
    ("Exploit", "漏洞利用", "Exploitation", Scenario::Attack),
    ("Spam", "垃圾邮件", "Spam", Scenario::Attack),
    ("Attack Source", "攻击源", "Attack source", Scenario::Attack),
    ("Brute Force", "暴力破解", "Brute force", Scenario::Attack),
    ("Suspicious", "可疑", "Suspicious", Scenario::Attack),
];

fn threat_type_entry(
    threat_type: &str,
) -> Option<&'static (&'static str, &'static str, &'static str, Scenario)> {
    THREAT_TYPES
        .iter()
        .find(|(name, ..)| name.eq_ignore_ascii_case(threat_type))
}

/// `threat_type_desc` of a threat type.
pub fn threat_type_desc(threat_type: &str, lang: Lang) -> String {
    match (threat_type_entry(threat_type), lang) {
        (Some((_, zh, _, _)), Lang::Zh) => (*zh).to_owned(),
        (Some((_, _, en, _)), Lang::En) => (*en).to_owned(),
        (None, _) => threat_type.to_owned(),
    }
}

/// The scenario a threat type implies; types the table does not know count as compromise
/// indicators (a feed listing a name as malicious most often means callbacks to it).
pub fn threat_type_scenario(threat_type: &str) -> Scenario {
    threat_type_entry(threat_type).map_or(Scenario::Compromise, |(.., s)| *s)
}

/// (key, English, 中文): ATT&CK tactics and kill-chain phases. Keys are lower case with hyphens.
const STAGES: &[(&str, &str, &str)] = &[
    ("reconnaissance", "reconnaissance", "侦察"),
    ("resource-development", "resource development", "资源开发"),
    ("initial-access", "initial access", "初始访问"),
    ("execution", "execution", "执行"),
    ("persistence", "persistence", "持久化"),
    ("privilege-escalation", "privilege escalation", "权限提升"),
    ("defense-evasion", "defense evasion", "防御规避"),
    ("credential-access", "credential access", "凭据访问"),
    ("discovery", "discovery", "发现"),
    ("lateral-movement", "lateral movement", "横向移动"),
    ("collection", "collection", "收集"),
    ("command-and-control", "command and control", "命令与控制"),
    ("exfiltration", "exfiltration", "数据渗出"),
    ("impact", "impact", "影响"),
    ("weaponization", "weaponization", "武器化"),
    ("delivery", "delivery", "投递"),
    ("exploitation", "exploitation", "漏洞利用"),
    ("installation", "installation", "安装"),
    ("actions-on-objectives", "actions on objectives", "目标达成"),
    ("network-intrusion", "network intrusion", "网络层入侵"),
];

/// The canonical key of a stage name: `Defense Evasion`, `defense_evasion` → `defense-evasion`.
pub fn stage_key(stage: &str) -> String {
    stage.trim().to_lowercase().replace([' ', '_'], "-")
}

/// Display name of an attack stage.
pub fn stage_name(stage: &str, lang: Lang) -> String {
    display_name(STAGES, &stage_key(stage), lang).unwrap_or_else(|| stage.to_owned())
}

/// The name of `key` in a (key, English, 中文) table.
fn display_name(table: &[(&str, &str, &str)], key: &str, lang: Lang) -> Option<String> {
    let (_, en, zh) = table.iter().find(|(k, ..)| *k == key)?;
    Some(match lang {
        Lang::En => (*en).to_owned(),
        Lang::Zh => (*zh).to_owned(),
    })
}

/// (key, English, 中文) of victim industries.
const INDUSTRIES: &[(&str, &str, &str)] = &[
    ("finance", "Finance", "金融"),
    ("gaming", "Gaming", "游戏"),
    ("government", "Government", "政府"),
    ("education", "Education", "教育"),
    ("healthcare", "Healthcare", "医疗"),
    ("retail", "Retail", "零售"),
    ("manufacturing", "Manufacturing", "制造"),
    ("energy", "Energy", "能源"),
    ("telecom", "Telecommunications", "通信"),
    ("internet", "Internet", "互联网"),
    ("media", "Media", "媒体"),
    ("transport", "Transportation", "交通"),
    ("unknown", "Unknown", "未知"),
];

/// Display name of a victim industry.
pub fn industry_name(industry: &str, lang: Lang) -> String {
    display_name(INDUSTRIES, &industry.trim().to_lowercase(), lang)
        .unwrap_or_else(|| industry.to_owned())
}
