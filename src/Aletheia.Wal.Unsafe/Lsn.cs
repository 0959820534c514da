using System.Globalization;

namespace Aletheia.Wal;

/// <summary>
/// A log sequence number. <see cref="None"/> (0) means "no record"; the first record of a new log is 1,
/// and the log hands out 1, 2, 3, ... with no hole, across reopen too.
/// </summary>
public readonly struct Lsn : IEquatable<Lsn>, IComparable<Lsn>
{
    /// <summary>Creates an LSN with the given value.</summary>
    public Lsn(ulong value) => Value = value;

    /// <summary>The numeric value; 0 is <see cref="None"/>.</summary>
    public ulong Value { get; }

    /// <summary>The LSN that names no record (0).</summary>
    public static Lsn None => default;

    /// <inheritdoc />
    public bool Equals(Lsn other) => Value == other.Value;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Lsn other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => Value.GetHashCode();

    /// <inheritdoc />
    public int CompareTo(Lsn other) => Value.CompareTo(other.Value);

    /// <summary>The value in decimal.</summary>
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Equality.</summary>
    public static bool operator ==(Lsn left, Lsn right) => left.Value == right.Value;

    /// <summary>Inequality.</summary>
    public static bool operator !=(Lsn left, Lsn right) => left.Value != right.Value;

    /// <summary>Order.</summary>
    public static bool operator <(Lsn left, Lsn right) => left.Value < right.Value;

    /// <summary>Order.</summary>
    public static bool operator >(Lsn left, Lsn right) => left.Value > right.Value;

    /// <summary>Order.</summary>
    public static bool operator <=(Lsn left, Lsn right) => left.Value <= right.Value;

    /// <summary>Order.</summary>
    public static bool operator >=(Lsn left, Lsn right) => left.Value >= right.Value;
}
