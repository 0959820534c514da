namespace Aletheia.Wal;

/// <summary>What <see cref="WalInspection.Inspect(WalOptions, IProgress{long}?, CancellationToken)"/> found: the verdict recovery at open gives the log.</summary>
public enum WalVerdict
{
    /// <summary>
    /// No damage: recovery keeps every record. It may still tidy up (rewrite a damaged copy of <c>wal.head</c> or an end
    /// marker that the next segment makes good, delete leftovers: see <see cref="WalInspectionReport.Changes"/>).
    /// </summary>
    Healthy,

    /// <summary>The first damage is an interrupted last write: nothing after it shows a later write (<see cref="WalInspectionReport.Damage"/>).</summary>
    TornTail,

    /// <summary>The first damage is one no interrupted write leaves: a later write follows it, a file was cut short, a segment is missing or out of place (<see cref="WalInspectionReport.Damage"/>).</summary>
    Corruption,

    /// <summary>The directory holds segments but no <c>wal.head</c>: the log's id and head are unknown; recovery refuses it in every mode.</summary>
    HeadMissing,

    /// <summary><c>wal.head</c> has no intact copy (or is blank) beside segments, refused in every mode; or, in Strict, one of its two copies is damaged.</summary>
    HeadDamaged,

    /// <summary>The directory holds no log (no <c>wal.head</c>, or one never completed, and no segment): opening it creates a new, empty log.</summary>
    NoLog,
}
