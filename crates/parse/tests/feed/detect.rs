//! Format detection on the corpus's real files (content first).

use threatintel_parse::{detect as detect_format, Format};

use super::corpus_dir;

fn detect(rel: &str) -> Option<Format> {
    let bytes = std::fs::read(corpus_dir().join(rel)).unwrap();
    let head = &bytes[..bytes.len().min(4096)];
    detect_format(rel, head)
}

#[test]
fn corpus_files_are_recognised() {
    use Format::*;
    let table = [
        ("cti_formats/stix21/tweetfeed/week.json", Stix),
        ("cti_formats/stix20/unit42_playbooks/mulelibra.json", Stix),
        (
            "cti_formats/stix21/oasis_cti-python-stix2/sco-examples-bundle.json",
            Stix,
        ),
        (
            "cti_formats/misp/events/pymisp_tests/reportlab_testfiles/sighting_1.json",
            MispEvent,
        ),
        (
            "cti_formats/misp/feeds/tweetfeed_last7/ec185261-dda2-5256-bf1a-f93d913192fa.json",
            MispEvent,
        ),
        (
            "cti_formats/misp/feeds/tweetfeed_last7/manifest.json",
            MispManifest,
        ),
        (
            "cti_formats/misp/feeds/threat-feed-publisher/manifest.json",
            MispManifest,
        ),
        (
            "abusech_feeds/visible/threatfox_iocs_defanged.jsonl",
            ThreatFoxJsonl,
        ),
        (
            "abusech_feeds/raw/threatfox_latest_snapshot.json",
            ThreatFoxJson,
        ),
        ("abusech_feeds/visible/urlhaus_2025-04-21.csv", UrlhausCsv),
        (
            "abusech_feeds/visible/feodotracker_ipblocklist_2024-04-04.csv",
            FeodoCsv,
        ),
        (
            "phishing_feeds/visible/phishtank_verified_online_2021-03-14.csv",
            PhishTankCsv,
        ),
        ("cti_formats/tweetfeed_csv/week.csv", TweetFeedCsv),
        (
            "phishing_feeds/visible/phishing_database_domains_ACTIVE_2018-05.txt",
            DomainList,
        ),
        (
            "maltrail_trails/visible/malware/apt_oceanlotus.txt",
            MaltrailTrails,
        ),
        (
            "misp_warninglists/lists/tranco10k/list.json",
            MispWarninglist,
        ),
        (
            "misp_warninglists/lists/amazon-aws/list.json",
            MispWarninglist,
        ),
        ("top_sites/alexa_top100k_2015.csv", RankedTopList),
        ("top_sites/tranco_top10k_2025-06.csv", TopList),
        ("top_sites/umbrella_top10k_2021-03.txt", TopList),
        (
            "cti_formats/mitre_attack/enterprise_tactics_derived.csv",
            Csv,
        ),
    ];
    for (rel, want) in table {
        assert_eq!(detect(rel), Some(want), "{rel}");
    }
}

/// Content decides, not the extension.
#[test]
fn content_over_extension() {
    use Format::*;
    let table: [(&str, &str, Option<Format>); 8] = [
        (
            "feed.txt",
            "0.0.0.0 ads.example\n0.0.0.0 track.example\n",
            Some(HostsFile),
        ),
        (
            "list.csv",
            "[Adblock Plus 2.0]\n||ads.example^\n",
            Some(Adblock),
        ),
        (
            "hosts",
            "||a.example^\n||b.example^$third-party\n",
            Some(Adblock),
        ),
        (
            "data.txt",
            "{\"type\": \"bundle\", \"objects\": []}",
            Some(Stix),
        ),
        ("x.json", "evil.example\nbad.example\n", Some(DomainList)),
        (
            "top.txt",
            "1,google.com\n2,youtube.com\n",
            Some(RankedTopList),
        ),
        ("x.bin", "\u{0}\u{1}\u{2}", None),
        ("x.json", "{\"unrelated\": true}", None),
    ];
    for (name, text, want) in table {
        assert_eq!(
            detect_format(name, text.as_bytes()),
            want,
            "{name}: {text:?}"
        );
    }
    for f in Format::ALL {
        assert!(!f.to_string().is_empty());
    }
}
