{#- The pipeline's tables as views in the scratch database.

    on-run-start (dbt_project.yml) makes one view per source of
    models/sources.yml in schema "pipeline", over the Parquet files under
    <SPARKFLOW_WORK_DIR>/<meta.path>; meta.partitioned marks Hive-style
    `key=value` directories (transactions/month=YYYY-MM/), whose values stay
    strings as Spark wrote them.  The views read the files at query time, so
    what the models see is exactly what the stages wrote. -#}
{% macro sparkflow_source_views() %}
  {%- if execute -%}
    {%- set work = env_var('SPARKFLOW_WORK_DIR').rstrip('/') -%}
    {%- set statements = ['create schema if not exists pipeline'] -%}
    {%- for node in graph.sources.values() if node.source_name == 'pipeline' -%}
      {%- set meta = node.config.meta or node.meta -%}
      {%- set files = work ~ '/' ~ meta['path'] ~ '/**/*.parquet' -%}
      {%- if meta.get('partitioned') -%}
        {%- set options = 'hive_partitioning = true, hive_types_autocast = false' -%}
      {%- else -%}
        {%- set options = 'hive_partitioning = false' -%}
      {%- endif -%}
      {%- do statements.append('create or replace view pipeline.' ~ adapter.quote(node.identifier)
            ~ ' as select * from read_parquet(' ~ sparkflow_string(files) ~ ', ' ~ options ~ ')') -%}
    {%- endfor -%}
    {{ return(statements | join(';\n')) }}
  {%- endif -%}
{% endmacro %}

{#- A SQL string literal of `text`. -#}
{% macro sparkflow_string(text) -%}
  '{{ text | replace("'", "''") }}'
{%- endmacro %}

{#- A SQL list of string literals, for `x in (...)`; a lone string is a list
    of one.  An empty list is (NULL), which matches nothing. -#}
{% macro sparkflow_string_list(values) -%}
  {%- set values = [values] if values is string else values -%}
  {%- if values | length == 0 -%}
    NULL
  {%- else -%}
    {%- for v in values -%}{{ sparkflow_string(v) }}{{ ", " if not loop.last }}{%- endfor -%}
  {%- endif -%}
{%- endmacro %}

{#- The kind of a category: 'income', 'transfer' or 'spend' (everything else,
    'uncategorised' and NULL included), as the marts stage decides it. -#}
{% macro sparkflow_kind(category) -%}
  case
    when {{ category }} in ({{ sparkflow_string_list(var('income_categories')) }}) then 'income'
    when {{ category }} in ({{ sparkflow_string_list(var('transfer_categories')) }}) then 'transfer'
    else 'spend'
  end
{%- endmacro %}
