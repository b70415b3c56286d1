//! The threat vocabulary: threat types, scenarios, ATT&CK stages and victim industries, each an
//! enum with the code evidence and the wire format carry (`C&C Server`, `command-and-control`,
//! `finance`) and its names in both service languages. Parsers map feed vocabularies onto these
//! codes; reports render them. Evidence keeps the codes as strings, so a code outside the
//! vocabulary (a native import, an older store) is kept and shown as stored.

use serde::{Deserialize, Serialize};

/// The two service languages (`ServiceLang`).
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

/// Picks the name in `lang` from a (中文, English) pair.
const fn pick(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
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
    pub const ALL: [Self; 3] = [Self::Compromise, Self::Attack, Self::Informational];

    pub const fn name(self, lang: Lang) -> &'static str {
        match self {
            Self::Compromise => pick(lang, "失陷指标", "compromise indicator"),
            Self::Attack => pick(lang, "攻击指标", "attack indicator"),
            Self::Informational => pick(lang, "信息数据", "informational"),
        }
    }

    /// Reads a scenario a feed states, in either language.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|sc| s == sc.name(Lang::Zh) || s.eq_ignore_ascii_case(sc.name(Lang::En)))
    }
}

/// Declares a vocabulary enum from one table: variant, code, 中文, English (and more columns).
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident { $($variant:ident => $code:literal, $zh:literal, $en:literal $(, $extra:expr)*;)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            /// Every value, in the table's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The code evidence, the store and the wire format carry.
            pub const fn code(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            pub const fn name(self, lang: Lang) -> &'static str {
                match self {
                    $(Self::$variant => pick(lang, $zh, $en),)+
                }
            }

            /// The value whose code is `code`, spelled exactly as in the table (one `match`,
            /// no scan of [`Self::ALL`]).
            pub fn of_exact_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

vocabulary! {
    /// The reference's threat types, most specific first (a record that several terms describe
    /// takes the earliest): APT before C&C Server before ... before generic Malware.
    ThreatType {
        Apt => "APT", "高级持续威胁攻击", "Advanced persistent threat";
        CommandAndControl => "C&C Server", "中控", "Command and control server";
        Rat => "RAT", "远控", "Remote access trojan";
        Ransomware => "Ransomware", "勒索软件", "Ransomware";
        Botnet => "Botnet", "僵尸网络", "Botnet";
        Trojan => "Trojan", "木马", "Trojan";
        Worm => "Worm", "蠕虫", "Worm";
        MinerPool => "Miner Pool", "矿池", "Mining pool";
        Phishing => "Phishing", "钓鱼网站", "Phishing";
        Exploit => "Exploit", "漏洞利用", "Exploitation";
        MaliciousSource => "Malicious Source", "恶意下载源", "Malicious download source";
        ScheduledTask => "Scheduled Task", "Windows计划任务", "Windows scheduled task";
        BitsJobs => "BITS Jobs", "BITS作业", "BITS jobs";
        CommandLineInterface => "Command-Line Interface", "恶意命令", "Malicious command line";
        Mshta => "Mshta执行", "Mshta执行", "Mshta execution";
        Regsvr32 => "Regsvr32", "Regsvr32执行", "Regsvr32 execution";
        SignedBinaryProxyExecution => "Signed Binary Proxy Execution", "签名的二进制代理执行", "Signed binary proxy execution";
        LocalJobScheduling => "Local Job Scheduling", "Linux计划任务", "Linux job scheduling";
        Rundll32 => "Rundll32", "Rundll32执行", "Rundll32 execution";
        Spam => "Spam", "垃圾邮件", "Spam";
        BruteForce => "Brute Force", "暴力破解", "Brute force";
        AttackSource => "Attack Source", "攻击源", "Attack source";
        Scanner => "Scanner", "扫描", "Scanner";
        Malware => "Malware", "恶意软件", "Malware";
        Suspicious => "Suspicious", "可疑", "Suspicious";
    }
}

impl ThreatType {
    /// The threat type of a code, in any case (stored codes are spelled as in the table: they
    /// are found without a scan).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::of_exact_code(code).or_else(|| {
            Self::ALL
                .iter()
                .copied()
                .find(|t| t.code().eq_ignore_ascii_case(code))
        })
    }

    /// The risk a record of this type carries (documented in `docs/verdict.md`):
    /// - High: malware of every kind, C&C, phishing, exploits, download sources and the ATT&CK
    ///   technique types; a name a feed ties to malware or phishing is blockable.
    /// - Medium: Miner Pool (pools are often public services), Spam, Attack Source, Brute Force.
    /// - Low: Scanner (background noise), Suspicious (PUA, parking, anonymisers, ...).
    pub const fn risk(self) -> crate::RiskLevel {
        use crate::RiskLevel::{High, Low, Medium};
        match self {
            Self::MinerPool | Self::Spam | Self::BruteForce | Self::AttackSource => Medium,
            Self::Scanner | Self::Suspicious => Low,
            _ => High,
        }
    }

    /// The scenario the type implies when a feed states none.
    pub const fn scenario(self) -> Scenario {
        match self {
            Self::Phishing
            | Self::Scanner
            | Self::Exploit
            | Self::Spam
            | Self::AttackSource
            | Self::BruteForce
            | Self::Suspicious => Scenario::Attack,
            _ => Scenario::Compromise,
        }
    }

    /// The name of a stored code (`threat_type_desc`); a code outside the vocabulary as it is.
    pub fn describe(code: &str, lang: Lang) -> &str {
        Self::from_code(code).map_or(code, |t| t.name(lang))
    }

    /// The scenario of a stored code; codes outside the vocabulary count as compromise
    /// indicators (a feed listing a name as malicious most often means callbacks to it).
    pub fn scenario_of(code: &str) -> Scenario {
        Self::from_code(code).map_or(Scenario::Compromise, Self::scenario)
    }

    /// The risk of a stored code; High outside the vocabulary (a feed listing a name under any
    /// other label is still saying it is malicious).
    pub fn risk_of(code: &str) -> crate::RiskLevel {
        Self::from_code(code).map_or(crate::RiskLevel::High, Self::risk)
    }
}

vocabulary! {
    /// ATT&CK tactics, then kill-chain phases. The code is the key evidence carries.
    AttackStage {
        Reconnaissance => "reconnaissance", "侦察", "reconnaissance";
        ResourceDevelopment => "resource-development", "资源开发", "resource development";
        InitialAccess => "initial-access", "初始访问", "initial access";
        Execution => "execution", "执行", "execution";
        Persistence => "persistence", "持久化", "persistence";
        PrivilegeEscalation => "privilege-escalation", "权限提升", "privilege escalation";
        DefenseEvasion => "defense-evasion", "防御规避", "defense evasion";
        CredentialAccess => "credential-access", "凭据访问", "credential access";
        Discovery => "discovery", "发现", "discovery";
        LateralMovement => "lateral-movement", "横向移动", "lateral movement";
        Collection => "collection", "收集", "collection";
        CommandAndControl => "command-and-control", "命令与控制", "command and control";
        Exfiltration => "exfiltration", "数据渗出", "exfiltration";
        Impact => "impact", "影响", "impact";
        Weaponization => "weaponization", "武器化", "weaponization";
        Delivery => "delivery", "投递", "delivery";
        Exploitation => "exploitation", "漏洞利用", "exploitation";
        Installation => "installation", "安装", "installation";
        ActionsOnObjectives => "actions-on-objectives", "目标达成", "actions on objectives";
        NetworkIntrusion => "network-intrusion", "网络层入侵", "network intrusion";
    }
}

impl AttackStage {
    /// The key of a stage as feeds and events write it: `Command and Control`,
    /// `command_and_control`, `mitre-attack:command-and-control` → `command-and-control`
    /// (lower case, words joined by `-`, a `namespace:` prefix dropped, `c2` and `cnc` read as
    /// command and control). A stage outside the vocabulary keeps its normalised key; `None`
    /// for an empty one.
    pub fn key_of(stage: &str) -> Option<String> {
        let stage = stage.rsplit(':').next().unwrap_or(stage);
        let key: String = stage
            .trim()
            .trim_matches('"')
            .to_lowercase()
            .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        match key.as_str() {
            "" => None,
            "c2" | "command-control" | "cnc" => Some(Self::CommandAndControl.code().to_owned()),
            "actions-on-objective" => Some(Self::ActionsOnObjectives.code().to_owned()),
            _ => Some(key),
        }
    }

    pub fn from_code(key: &str) -> Option<Self> {
        Self::of_exact_code(key)
    }

    /// The display name of a stored stage; one outside the vocabulary as it is.
    pub fn describe(stage: &str, lang: Lang) -> &str {
        Self::key_of(stage)
            .and_then(|key| Self::from_code(&key))
            .map_or(stage, |s| s.name(lang))
    }
}

vocabulary! {
    /// Victim industries. The code is the key evidence carries.
    Industry {
        Finance => "finance", "金融", "Finance";
        Gaming => "gaming", "游戏", "Gaming";
        Government => "government", "政府", "Government";
        Education => "education", "教育", "Education";
        Healthcare => "healthcare", "医疗", "Healthcare";
        Retail => "retail", "零售", "Retail";
        Manufacturing => "manufacturing", "制造", "Manufacturing";
        Energy => "energy", "能源", "Energy";
        Telecom => "telecom", "通信", "Telecommunications";
        Internet => "internet", "互联网", "Internet";
        Media => "media", "媒体", "Media";
        Transport => "transport", "交通", "Transportation";
        Unknown => "unknown", "未知", "Unknown";
    }
}

impl Industry {
    pub fn from_code(key: &str) -> Option<Self> {
        Self::of_exact_code(key)
    }

    /// The industry of a sector as feeds name it (a STIX `sectors` value, already normalised
    /// to lower case words joined by `-`: `financial-services`, `government-national`).
    pub fn of_sector(sector: &str) -> Option<Self> {
        Some(match sector {
            "financial-services" | "finance" | "financial" | "banking" | "insurance" => {
                Self::Finance
            }
            "gaming" | "entertainment" | "games" => Self::Gaming,
            "education" | "academic" => Self::Education,
            "healthcare" | "pharmaceuticals" | "health" => Self::Healthcare,
            "retail" | "hospitality-leisure" => Self::Retail,
            "manufacturing" | "automotive" | "construction" => Self::Manufacturing,
            "energy" | "utilities" | "mining" => Self::Energy,
            "telecommunications" | "telecom" => Self::Telecom,
            "technology" | "internet" => Self::Internet,
            "media" | "communications" => Self::Media,
            "transportation" | "aviation" | "logistics" => Self::Transport,
            "defence" | "defense" => Self::Government,
            _ if sector.starts_with("government") => Self::Government,
            "" => Self::Unknown,
            _ => return None,
        })
    }

    /// The display name of a stored industry key; one outside the vocabulary as it is.
    pub fn describe(industry: &str, lang: Lang) -> &str {
        Self::from_code(&industry.trim().to_lowercase()).map_or(industry, |i| i.name(lang))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back() {
        for t in ThreatType::ALL {
            assert_eq!(ThreatType::from_code(t.code()), Some(*t));
            assert_eq!(ThreatType::from_code(&t.code().to_lowercase()), Some(*t));
        }
        for s in AttackStage::ALL {
            assert_eq!(AttackStage::key_of(s.code()).as_deref(), Some(s.code()));
            assert_eq!(
                AttackStage::key_of(s.name(Lang::En)).as_deref(),
                Some(s.code())
            );
        }
        for i in Industry::ALL {
            assert_eq!(Industry::from_code(i.code()), Some(*i));
        }
    }
}
