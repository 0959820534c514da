namespace Aletheia.Wal;

/// <summary>The kind of a log's first damage, as far as the bytes on disk tell (native-layout.md, section 5).</summary>
public enum WalDamageKind
{
    /// <summary>An interrupted last write: nothing after the damaged write shows that a later write was made. Cut in every mode but Strict.</summary>
    TornTail,

    /// <summary>Damage no interrupted write leaves (a later write follows it, a file cut short, a segment missing or out of place). Cut only in PointInTime.</summary>
    Corruption,
}
