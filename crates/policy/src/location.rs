//! Named locations: IP ranges and countries.

use crate::enums::graph_enum;
use crate::serde_util::{nullable, Extra};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

graph_enum! {
    /// How a country location finds the sign-in's country.
    pub enum CountryLookupMethod {
        /// From the client's IP address.
        ClientIpAddress = "clientIpAddress",
        /// From the authenticator app's GPS.
        AuthenticatorAppGps = "authenticatorAppGps",
    }
}

/// One range of an IP named location.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpRange {
    /// CIDR notation, IPv4 or IPv6.
    #[serde(default)]
    pub cidr_address: String,
    /// `@odata.type` and the like.
    #[serde(flatten)]
    pub extra: Extra,
}

impl IpRange {
    /// The parsed range, or `None` when the CIDR is malformed.
    pub fn net(&self) -> Option<IpNet> {
        self.cidr_address.trim().parse().ok().or_else(|| {
            // A bare address is a one-address range.
            self.cidr_address
                .trim()
                .parse::<IpAddr>()
                .ok()
                .map(IpNet::from)
        })
    }
}

/// Graph `namedLocation`: `ipNamedLocation`, `countryNamedLocation` or another kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedLocation {
    /// Unique id.
    #[serde(default)]
    pub id: String,
    /// Name shown to administrators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// IP ranges (IP locations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_ranges: Option<Vec<IpRange>>,
    /// Whether the location is trusted (`AllTrusted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_trusted: Option<bool>,
    /// ISO 3166-1 alpha-2 codes (country locations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countries_and_regions: Option<Vec<String>>,
    /// Whether sign-ins whose country is unknown are in the location.
    #[serde(default, deserialize_with = "nullable")]
    pub include_unknown_countries_and_regions: bool,
    /// How the country is found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_lookup_method: Option<CountryLookupMethod>,
    /// Fields Portcullis does not use (`@odata.type` among them), kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// What Portcullis can say about where a sign-in comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignInLocation {
    /// Client IP address, if known.
    pub ip_address: Option<IpAddr>,
    /// Country of the IP address (ISO 3166-1 alpha-2), if known.
    pub country: Option<String>,
}

/// The kind of a named location, from its `@odata.type` or its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationKind {
    /// `ipNamedLocation`.
    Ip,
    /// `countryNamedLocation`.
    Country,
    /// Anything else (compliant networks, future kinds): Portcullis cannot evaluate it.
    Other,
}

impl NamedLocation {
    /// The location's kind.
    pub fn kind(&self) -> LocationKind {
        let odata = self
            .extra
            .get("@odata.type")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        if odata.ends_with("ipNamedLocation") || (odata.is_empty() && self.ip_ranges.is_some()) {
            LocationKind::Ip
        } else if odata.ends_with("countryNamedLocation")
            || (odata.is_empty() && self.countries_and_regions.is_some())
        {
            LocationKind::Country
        } else {
            LocationKind::Other
        }
    }

    /// The name to show, falling back to the id.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }

    /// Whether the sign-in is in this location: `Some(bool)` when it can be known, `None` when not.
    pub fn contains(&self, at: &SignInLocation) -> Option<bool> {
        match self.kind() {
            LocationKind::Ip => {
                let ip = at.ip_address?;
                Some(
                    self.ip_ranges
                        .iter()
                        .flatten()
                        .filter_map(IpRange::net)
                        .any(|net| net.contains(&ip)),
                )
            }
            LocationKind::Country => {
                if self.country_lookup_method == Some(CountryLookupMethod::AuthenticatorAppGps) {
                    // Portcullis has no GPS from an authenticator app.
                    return None;
                }
                match at.country.as_deref() {
                    Some(country) => Some(
                        self.countries_and_regions
                            .iter()
                            .flatten()
                            .any(|c| c.eq_ignore_ascii_case(country)),
                    ),
                    // An IP we know whose country we do not: that is the "unknown country" case.
                    None if at.ip_address.is_some() => {
                        Some(self.include_unknown_countries_and_regions)
                    }
                    None => None,
                }
            }
            LocationKind::Other => None,
        }
    }

    /// Ranges whose CIDR does not parse.
    pub fn malformed_ranges(&self) -> impl Iterator<Item = &str> {
        self.ip_ranges
            .iter()
            .flatten()
            .filter(|r| r.net().is_none())
            .map(|r| r.cidr_address.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip_location(cidrs: &[&str]) -> NamedLocation {
        NamedLocation {
            id: "loc".into(),
            ip_ranges: Some(
                cidrs
                    .iter()
                    .map(|c| IpRange {
                        cidr_address: c.to_string(),
                        extra: Extra::new(),
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn at(ip: Option<&str>, country: Option<&str>) -> SignInLocation {
        SignInLocation {
            ip_address: ip.and_then(|i| i.parse().ok()),
            country: country.map(str::to_string),
        }
    }

    #[test]
    fn ip_ranges_match_v4_and_v6() {
        let l = ip_location(&["203.0.113.0/24", "2001:db8::/32"]);
        assert_eq!(l.contains(&at(Some("203.0.113.7"), None)), Some(true));
        assert_eq!(l.contains(&at(Some("203.0.114.7"), None)), Some(false));
        assert_eq!(l.contains(&at(Some("2001:db8::1"), None)), Some(true));
        assert_eq!(l.contains(&at(None, Some("BE"))), None, "no IP: unknowable");
    }

    #[test]
    fn malformed_cidr_is_reported_and_matches_nothing() {
        let l = ip_location(&["300.1.1.1/8", "198.51.100.4"]);
        assert_eq!(
            l.malformed_ranges().collect::<Vec<_>>(),
            vec!["300.1.1.1/8"]
        );
        assert_eq!(l.contains(&at(Some("198.51.100.4"), None)), Some(true));
        assert_eq!(l.contains(&at(Some("198.51.100.5"), None)), Some(false));
    }

    #[test]
    fn countries_and_unknown_countries() {
        let mut l = NamedLocation {
            id: "c".into(),
            countries_and_regions: Some(vec!["BE".into(), "NL".into()]),
            ..Default::default()
        };
        assert_eq!(l.kind(), LocationKind::Country);
        assert_eq!(l.contains(&at(None, Some("be"))), Some(true));
        assert_eq!(l.contains(&at(None, Some("FR"))), Some(false));
        assert_eq!(l.contains(&at(Some("192.0.2.1"), None)), Some(false));
        l.include_unknown_countries_and_regions = true;
        assert_eq!(l.contains(&at(Some("192.0.2.1"), None)), Some(true));
        assert_eq!(l.contains(&at(None, None)), None);
        l.country_lookup_method = Some(CountryLookupMethod::AuthenticatorAppGps);
        assert_eq!(l.contains(&at(None, Some("BE"))), None, "GPS is unknowable");
    }
}
