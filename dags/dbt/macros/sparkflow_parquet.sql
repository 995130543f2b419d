{#- Materialization of the dashboard models: a table in the scratch
    database, written as Parquet into the run's work dir.

    Each model lands in its own directory, <SPARKFLOW_WORK_DIR>/dbt/<model>/
    (data_0.parquet, one file per DuckDB writer thread), which is what the
    catalog takes for a table: a directory holding Parquet files, named by
    its last segment.  dbt-duckdb's own `external` materialization is not
    used because it writes one file per model (no directory of its own) and,
    for an empty model, a row of NULLs into the file to keep the column
    types; DuckDB writes a zero-row Parquet file with its schema, which is
    what a published table should hold.  Tests and downstream models read
    the table in the scratch database, which holds the same rows. -#}
{% materialization sparkflow_parquet, adapter='duckdb' %}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set location = sparkflow_output_dir(this) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- if existing_relation is not none -%}
    {{ adapter.drop_relation(existing_relation) }}
  {%- endif %}

  {% call statement('main') -%}
    {{ create_table_as(False, target_relation, compiled_code) }}
  {%- endcall %}

  {% call statement('write_parquet') -%}
    copy {{ target_relation }} to {{ sparkflow_string(location) }}
      (format parquet, per_thread_output true, overwrite true)
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- Where a dashboard model's Parquet goes: <SPARKFLOW_WORK_DIR>/dbt/<model>. -#}
{% macro sparkflow_output_dir(relation) -%}
  {{ env_var('SPARKFLOW_WORK_DIR').rstrip('/') }}/dbt/{{ relation.identifier }}
{%- endmacro %}
