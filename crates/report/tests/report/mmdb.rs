//! A minimal MMDB writer for the tests (MaxMind DB format 2.0: an IPv6 search tree of 24-bit
//! records, IPv4 under `::/96`, then the data section, then the metadata), so that no database
//! is shipped.

use std::net::IpAddr;

/// A data-section value.
pub enum Value {
    Str(&'static str),
    U32(u32),
    Map(Vec<(&'static str, Value)>),
    Array(Vec<Value>),
}

/// `{"names": {"en": en, "zh-CN": zh}}`, as GeoIP2 writes a place.
pub fn place(en: &'static str, zh: &'static str) -> Value {
    Value::Map(vec![(
        "names",
        Value::Map(vec![("zh-CN", Value::Str(zh)), ("en", Value::Str(en))]),
    )])
}

fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (low, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        _ => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
    };
    if kind <= 7 {
        out.push(kind << 5 | low);
    } else {
        out.extend([low, kind - 7]);
    }
    out.extend(extra);
}

fn encode(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Str(s) => {
            control(out, 2, s.len());
            out.extend(s.as_bytes());
        }
        Value::U32(n) => unsigned(out, 6, u64::from(*n)),
        Value::Map(members) => {
            control(out, 7, members.len());
            for (key, value) in members {
                encode(out, &Value::Str(key));
                encode(out, value);
            }
        }
        Value::Array(items) => {
            control(out, 11, items.len());
            for item in items {
                encode(out, item);
            }
        }
    }
}

fn unsigned(out: &mut Vec<u8>, kind: u8, n: u64) {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, kind, 8 - skip);
    out.extend(&bytes[skip..]);
}

#[derive(Default)]
struct Node {
    children: [Option<Box<Node>>; 2],
    /// Data offsets of the networks ending below each branch.
    data: [Option<usize>; 2],
}

/// An MMDB file mapping each network to its record.
pub fn write(database_type: &'static str, networks: &[(&str, Value)]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut root = Node::default();
    for (network, value) in networks {
        let (addr, prefix) = network.split_once('/').unwrap();
        let addr: IpAddr = addr.parse().unwrap();
        let mut prefix: usize = prefix.parse().unwrap();
        let bits = match addr {
            IpAddr::V4(v4) => {
                prefix += 96;
                u128::from(u32::from(v4))
            }
            IpAddr::V6(v6) => u128::from(v6),
        };
        let offset = data.len();
        encode(&mut data, value);
        let mut node = &mut root;
        for depth in 0..prefix {
            let bit = (bits >> (127 - depth) & 1) as usize;
            if depth + 1 == prefix {
                node.data[bit] = Some(offset);
            } else {
                node = node.children[bit].get_or_insert_with(Box::default);
            }
        }
    }
    // Number the nodes breadth first, the root 0.
    let mut order: Vec<&Node> = vec![&root];
    let mut i = 0;
    while i < order.len() {
        let node = order[i];
        order.extend(node.children.iter().flatten().map(|c| &**c));
        i += 1;
    }
    let count = order.len();
    let mut tree = Vec::new();
    let mut next_child = 1;
    for node in &order {
        for bit in 0..2 {
            let record = if node.children[bit].is_some() {
                next_child += 1;
                next_child - 1
            } else if let Some(offset) = node.data[bit] {
                count + 16 + offset
            } else {
                count
            };
            tree.extend(&(record as u32).to_be_bytes()[1..]);
        }
    }
    let mut file = tree;
    file.extend([0u8; 16]);
    file.extend(data);
    file.extend(b"\xAB\xCD\xEFMaxMind.com");
    let mut metadata = Vec::new();
    control(&mut metadata, 7, 9);
    let mut member = |key: &'static str, value: &dyn Fn(&mut Vec<u8>)| {
        encode(&mut metadata, &Value::Str(key));
        value(&mut metadata);
    };
    member("node_count", &|m| unsigned(m, 6, count as u64));
    member("record_size", &|m| unsigned(m, 5, 24));
    member("ip_version", &|m| unsigned(m, 5, 6));
    member("database_type", &|m| encode(m, &Value::Str(database_type)));
    member("languages", &|m| {
        encode(m, &Value::Array(vec![Value::Str("en")]))
    });
    member("binary_format_major_version", &|m| unsigned(m, 5, 2));
    member("binary_format_minor_version", &|m| unsigned(m, 5, 0));
    member("build_epoch", &|m| unsigned(m, 9, 1_717_200_000));
    member("description", &|m| {
        encode(m, &Value::Map(vec![("en", Value::Str("test"))]))
    });
    file.extend(metadata);
    file
}
